package io.influence.spark.shapley;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.spark.config.BadRows;
import io.influence.spark.config.LongText;
import io.influence.spark.config.Method;
import io.influence.spark.config.ShapleySettings;
import io.influence.spark.io.Queries;
import java.util.List;
import org.apache.hadoop.fs.Path;

/**
 * What {@link ShapleyJob#run} computes: the Data Shapley value of every player (training sequence, or group of
 * them) for every query, by fine-tuning {@code checkpoint} on coalitions of players.
 *
 * @param checkpoint the checkpoint fine-tuned from (its {@code tokenizer.json} tokenises text rows and the queries)
 * @param corpus     the training corpus (io.influence.spark.io.Corpus), also joined for the text of the rows
 * @param badRows    what rows that cannot be used do
 * @param longText   what a text longer than the context becomes
 * @param queries    at least one query, ids distinct
 * @param method     {@link Method#TMC_SHAPLEY} or {@link Method#G_SHAPLEY}
 * @param settings   budget, truncation, seed, players, fine-tuning
 * @param k          players kept per query and direction
 * @param output     folder for the score rows, {@code summary.jsonl} and the values, or null to write nothing
 */
public record ShapleySpec(RunCheckpoint checkpoint, Path corpus, BadRows badRows, LongText longText,
                          List<Queries.Query> queries, Method method, ShapleySettings settings, int k, Path output) {

  public ShapleySpec {
    if (!method.retrains()) {
      throw new IllegalArgumentException("the Shapley job runs tmc-shapley or g-shapley, not " + method.word());
    }
    if (queries.isEmpty()) {
      throw new IllegalArgumentException("no queries to value the training data for; HINT: give at least one query");
    }
    if (k < 1) {
      throw new IllegalArgumentException("k must be >= 1, got " + k);
    }
  }
}
