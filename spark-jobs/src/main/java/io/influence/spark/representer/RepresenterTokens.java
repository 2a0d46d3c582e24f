package io.influence.spark.representer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.model.CausalLm;
import io.influence.core.representer.RepresenterHead;
import io.influence.core.representer.RepresenterScorer;
import io.influence.core.representer.TokenFeatures;
import io.influence.core.tokenizer.PromptCompletion;
import io.influence.spark.extract.ExecutorModels;
import io.influence.spark.io.Locations;
import io.influence.spark.io.Queries;
import io.influence.spark.io.Runs;
import io.influence.spark.method.QueryGradients;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Token-level highlighting of a representer score folder for the report: each shown sequence's score split over
 * its tokens ({@link RepresenterScorer#tokenScores}), recomputed on the driver from the head the scores were
 * computed with (found by the fingerprint in the folder's {@value RepresenterJob#FIT_FILE}).
 */
public final class RepresenterTokens {

  private static final ObjectMapper JSON = new ObjectMapper();

  private RepresenterTokens() {}

  /** Whether {@code scoreDir} holds representer scores. */
  public static boolean holds(Configuration conf, Path scoreDir) {
    return Locations.isFile(conf, new Path(scoreDir, RepresenterJob.FIT_FILE));
  }

  /** The checkpoint name ({@code step-N}) the folder's scores were computed at. */
  public static String checkpoint(Configuration conf, Path scoreDir) {
    return fit(conf, scoreDir).get("checkpoint").asText();
  }

  /**
   * Per query id and shown train id, the contribution of each token of the sequence (position {@code t ≥ 1}: the
   * token predicted there; position 0 predicts nothing and gets 0); they add up to the row's score.
   */
  public static Map<String, Map<String, double[]>> contributions(Configuration conf, Path scoreDir, Path fitDir,
      RunCheckpoint checkpoint, List<Queries.Query> queries, Map<String, int[]> sequences,
      Map<String, Set<String>> pairs) {
    JsonNode fit = fit(conf, scoreDir);
    RepresenterHead head = SavedHead.read(conf, fitDir, fit.get(SavedHead.FINGERPRINT).asText())
        .orElseThrow(() -> new IllegalStateException("the head the scores in " + scoreDir + " were computed with is no"
            + " longer in " + fitDir + " (fitted again since). HINT: run the score stage for this folder again"))
        .head();
    CausalLm model = ExecutorModels.model(Runs.location(checkpoint), checkpoint.sha256(), DataType.DOUBLE);
    List<PromptCompletion> encoded = QueryGradients.encode(queries, checkpoint, model);
    Map<String, Map<String, double[]>> out = new LinkedHashMap<>();
    for (int q = 0; q < queries.size(); q++) {
      PromptCompletion pc = encoded.get(q);
      TokenFeatures qf = TokenFeatures.of(model, List.of(pc.tokens()), List.of(pc.lossMask()), 1);
      RepresenterScorer scorer = new RepresenterScorer(head, qf, 1);
      Map<String, double[]> perTrain = new LinkedHashMap<>();
      for (String id : pairs.getOrDefault(queries.get(q).id(), Set.of())) {
        int[] tokens = sequences.get(id);
        double[] c = new double[tokens.length];
        if (tokens.length >= 2) {
          double[][] shares = scorer.tokenScores(TokenFeatures.of(model, List.of(tokens), null, 1));
          for (int t = 1; t < tokens.length; t++) {
            c[t] = shares[t - 1][0];
          }
        }
        perTrain.put(id, c);
      }
      out.put(queries.get(q).id(), perTrain);
    }
    return out;
  }

  private static JsonNode fit(Configuration conf, Path scoreDir) {
    Path file = new Path(scoreDir, RepresenterJob.FIT_FILE);
    try {
      return JSON.readTree(Locations.readString(conf, file));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
    }
  }
}
