package io.influence.spark.shapley;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.checkpoints.TrainingRun;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.OutputGuard;
import io.influence.spark.io.Corpus;
import io.influence.spark.io.Locations;
import io.influence.spark.io.Queries;
import io.influence.spark.io.Runs;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * The score stage when {@code score.method} is {@code tmc-shapley} or {@code g-shapley}: no gradient store, the run's
 * checkpoint ({@code shapley.checkpoint}) fine-tuned on subsets of the corpus ({@link ShapleyJob}), into
 * {@code score.folder} with the settings it ran with (the score, input and shapley blocks, the checkpoint's hash, the
 * corpus's content fingerprint and the queries' content) saved beside it.
 */
public final class ShapleyStage {

  private ShapleyStage() {}

  /** Runs (or reuses) the Shapley scores of the settings; the score rows. */
  public static Dataset<Row> score(SparkSession spark, InfluenceSettings s) {
    Path out = Locations.resolve(spark, s.output().dir());
    String folder = s.score().folder();
    Path corpus = Locations.resolve(spark, s.input().corpus("score"));
    RunCheckpoint checkpoint = checkpoint(run(s), s.shapley().checkpoint(), s.input().run("score"));
    List<Queries.Query> queries = Queries.read(spark, s.input().queries("score"));
    String queryContent = Runs.sha256(queries.stream().map(q -> q.id() + "\0" + q.prompt() + "\0" + q.completion())
        .collect(Collectors.joining("\n")));
    Config settings = s.section("score", "input", "shapley")
        .withValue(OutputGuard.INPUTS + ".checkpoint", ConfigValueFactory.fromAnyRef(checkpoint.sha256()))
        .withValue(OutputGuard.INPUTS + ".corpus", ConfigValueFactory.fromAnyRef(
            Corpus.fingerprint(Corpus.read(spark, corpus, s.input().badRows()))))
        .withValue(OutputGuard.INPUTS + ".queries", ConfigValueFactory.fromAnyRef(queryContent));
    return OutputGuard.whileClaimed(out, folder, settings, s.output().overwrite(), () -> ShapleyJob.run(spark,
        new ShapleySpec(checkpoint, corpus, s.input().badRows(), s.input().longText(), queries, s.score().method(),
            s.shapley(), s.score().topK(), new Path(out, folder))).scores());
  }

  /** The checkpoint of {@code step} (the last when empty); a step the run lacks fails naming the ones it has. */
  static RunCheckpoint checkpoint(TrainingRun run, Optional<Long> step, String location) {
    List<RunCheckpoint> all = run.checkpoints();
    if (all.isEmpty()) {
      throw new IllegalArgumentException("the run " + location + " has no checkpoints");
    }
    if (step.isEmpty()) {
      return all.get(all.size() - 1);
    }
    return all.stream().filter(c -> c.step() == step.get()).findFirst().orElseThrow(() ->
        new IllegalArgumentException("influence.shapley.checkpoint = " + step.get() + ", but the run " + location
            + " has checkpoints at steps " + all.stream().map(RunCheckpoint::step).toList()
            + ". HINT: name one of them, or \"last\""));
  }

  private static TrainingRun run(InfluenceSettings s) {
    try {
      return Runs.read(Locations.conf(), s.input().run("score"), s.input().constantLearningRate());
    } catch (CheckpointFormatException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
  }
}
