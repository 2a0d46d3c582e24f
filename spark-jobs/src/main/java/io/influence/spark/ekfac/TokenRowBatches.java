package io.influence.spark.ekfac;

import io.influence.core.model.BatchGradients;
import io.influence.core.model.CausalLm;
import io.influence.core.model.GradientRequest;
import io.influence.core.model.TokenBatch;
import io.influence.spark.progress.ProgressCounter;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.sql.Row;

/**
 * The passes of fit-ekfac over the tokenised corpus: a partition's {@code (id, tokens)} rows through the model
 * {@code batchSize} at a time, each batch's gradients handed to the caller with the batch's ids, and its rows added
 * to {@code done}. With several label draws (the true Fisher with {@code ekfac.fisher-samples} above 1) each batch
 * goes through the model once per draw and every draw's gradients come with weight {@code 1 / draws}.
 */
final class TokenRowBatches {

  /** What a pass does with one batch: {@code ids.get(i)} is the id of example {@code i} of {@code g}. */
  interface Consumer {
    void accept(List<String> ids, BatchGradients g, double weight);
  }

  private TokenRowBatches() {}

  static void forEach(Iterator<Row> rows, CausalLm model, GradientRequest request,
      List<GradientRequest.Labels> draws, int batchSize, ProgressCounter done, Consumer consumer) {
    if (draws.isEmpty()) {
      throw new IllegalArgumentException("at least one label draw");
    }
    double weight = 1.0 / draws.size();
    List<String> ids = new ArrayList<>();
    List<int[]> batch = new ArrayList<>();
    while (rows.hasNext()) {
      Row r = rows.next();
      ids.add(r.getString(0));
      List<Integer> t = r.getList(1);
      batch.add(t.stream().mapToInt(Integer::intValue).toArray());
      if (batch.size() == batchSize || !rows.hasNext()) {
        TokenBatch tokens = new TokenBatch(batch.toArray(new int[0][]), null);
        for (GradientRequest.Labels labels : draws) {
          consumer.accept(ids, model.gradients(tokens, request.withLabels(labels)), weight);
        }
        done.add(batch.size());
        ids.clear();
        batch.clear();
      }
    }
  }
}
