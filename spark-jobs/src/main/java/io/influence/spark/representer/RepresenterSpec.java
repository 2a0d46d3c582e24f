package io.influence.spark.representer;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.spark.config.BadRows;
import io.influence.spark.config.LongText;
import io.influence.spark.config.RepresenterSettings;
import io.influence.spark.io.Queries;
import java.util.List;
import java.util.Objects;
import org.apache.hadoop.fs.Path;

/**
 * What {@link RepresenterJob#run} computes: the representer scores of every query against every usable corpus
 * sequence at {@code checkpoint}, top-k and bottom-k per query.
 *
 * @param corpus     the corpus (io.influence.spark.io.Corpus), tokenised with the checkpoint's tokenizer
 * @param checkpoint the checkpoint whose head is fine-tuned and whose features are used (the stage: the last one)
 * @param queries    at least one query, ids distinct
 * @param settings   the fine-tune's settings
 * @param k          sequences kept per query and direction, {@code >= 1}
 * @param blockRows  training sequences per scoring block on an executor, {@code >= 1}
 * @param badRows    what corpus rows that cannot be used do
 * @param longText   what a row longer than the context becomes
 * @param fitDir     where the fitted head is saved and looked up ({@link SavedHead})
 * @param output     folder for the score rows and {@code summary.jsonl}, or null to write nothing
 */
public record RepresenterSpec(Path corpus, RunCheckpoint checkpoint, List<Queries.Query> queries,
                              RepresenterSettings settings, int k, int blockRows, BadRows badRows, LongText longText,
                              Path fitDir, Path output) {

  public RepresenterSpec {
    Objects.requireNonNull(corpus, "corpus");
    Objects.requireNonNull(checkpoint, "checkpoint");
    Objects.requireNonNull(settings, "settings");
    Objects.requireNonNull(fitDir, "fitDir");
    queries = List.copyOf(queries);
    if (queries.isEmpty()) {
      throw new IllegalArgumentException("no queries to score");
    }
    if (queries.stream().map(Queries.Query::id).distinct().count() != queries.size()) {
      throw new IllegalArgumentException("query ids must be distinct. HINT: give each query a unique id.");
    }
    if (k < 1 || blockRows < 1) {
      throw new IllegalArgumentException("k and blockRows must be >= 1, got " + k + ", " + blockRows);
    }
  }
}
