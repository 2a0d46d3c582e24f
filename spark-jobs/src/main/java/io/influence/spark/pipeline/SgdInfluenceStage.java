package io.influence.spark.pipeline;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.checkpoints.TrainingExamples;
import io.influence.checkpoints.TrainingLogs;
import io.influence.checkpoints.TrainingRun;
import io.influence.core.model.CausalLm;
import io.influence.core.tokenizer.PromptCompletion;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.Method;
import io.influence.spark.config.OutputGuard;
import io.influence.spark.extract.TokenizedCorpus;
import io.influence.spark.io.Corpus;
import io.influence.spark.io.Locations;
import io.influence.spark.io.Queries;
import io.influence.spark.io.Runs;
import io.influence.spark.method.QueryGradients;
import io.influence.spark.sgdinfluence.SgdInfluenceJob;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The score stage for {@code score.method = sgd-influence}: the run's training log is mapped onto the corpus file and
 * {@link SgdInfluenceJob} replays the run, into {@code score.folder} like every other method.
 *
 * <p>Mapping: the log's example indices are positions in the trainer's list of sequences; the run's
 * {@link TrainingExamples#FILE} (written by {@code influence train}) names each by its corpus id ({@code <id>} or
 * {@code <id>#w<k>}). The corpus is tokenised as the other stages do ({@link TokenizedCorpus}), and each index gets
 * the sequence of its id, whose tokens must hash as trained; every corpus sequence must be a logged one. The replay
 * then checks itself against the last checkpoint, so a corpus other than the one trained on cannot pass.
 *
 * <p>Fingerprint ({@link OutputGuard}): the {@code score} and {@code input} blocks plus, as inputs, the last
 * checkpoint's SHA-256, the training log's and the examples file's SHA-256, the corpus content fingerprint and the
 * queries' content: any change recomputes the scores. Self-influence and flag with this method run in
 * {@link SgdInfluenceCleaning} (self-influence: one backward replay per training sequence, bounded by a setting).
 */
final class SgdInfluenceStage {

  private SgdInfluenceStage() {}

  /** True for the method this stage runs (the score stage hands it over instead of scoring stored gradients). */
  static boolean handles(Method method) {
    return method == Method.SGD_INFLUENCE;
  }

  static Dataset<Row> score(SparkSession spark, InfluenceSettings s) {
    Path out = Locations.resolve(spark, s.output().dir());
    String folder = s.score().folder();
    Path corpusPath = Locations.resolve(spark, s.input().corpus("score"));
    String queriesFile = s.input().queries("score");
    String runLocation = s.input().run("score");
    Path runPath = Locations.resolve(spark, runLocation);
    if (!Locations.isLocal(runPath)) {
      throw new IllegalArgumentException("score.method = sgd-influence replays the run from its local folder, but "
          + "input.run = " + runLocation + " is not on the local file system. HINT: copy the run folder to a local "
          + "path (every executor must see it there)");
    }
    java.nio.file.Path runDir = Locations.toLocal(runPath);
    TrainingRun run = Stages.run(s, "score");
    // driver-side checks before any Spark work: a plain-SGD log, and the ids of its sequences
    var log = SgdInfluenceJob.preflight(runDir, readLogSize(runDir));
    List<TrainingExamples.Example> examples = examples(runDir);
    RunCheckpoint last = run.checkpoints().get(run.checkpoints().size() - 1);
    if (last.step() != log.steps().size()) {
      throw new IllegalArgumentException(runDir.resolve(TrainingLogs.FILE) + " records " + log.steps().size()
          + " steps but the run's last checkpoint is at step " + last.step() + ". HINT: score the run as "
          + "`influence train` left it (its last checkpoint is the end of training)");
    }
    Dataset<Row> corpusRows = Corpus.read(spark, corpusPath, s.input().badRows());
    List<Queries.Query> queries = Queries.read(spark, queriesFile);
    Config settings = withRunInputs(s.section("score", "input"), last, runDir, corpusRows)
        .withValue(OutputGuard.INPUTS + ".queries", ConfigValueFactory.fromAnyRef(Runs.sha256(queries.stream()
            .map(q -> q.id() + "\0" + q.prompt() + "\0" + q.completion()).collect(Collectors.joining("\n")))));
    return OutputGuard.whileClaimed(out, folder, settings, s.output().overwrite(),
        () -> Stages.logged(spark, out, Stages.progressName(folder), () -> {
          List<int[]> sequences = sequences(spark, corpusRows, run, s, examples, runDir);
          List<SgdInfluenceJob.Query> encoded = encode(queries, last);
          return SgdInfluenceJob.run(spark, new SgdInfluenceJob.Spec(runDir,
              examples.stream().map(TrainingExamples.Example::id).toList(), sequences, encoded, s.score().topK(),
              Math.max(1, (encoded.size() + 1) / 2), new Path(out, folder), corpusPath));
        }));
  }

  /**
   * {@code settings} with what a replay's output is computed from: the last checkpoint's content hash, the training
   * log and training-examples files, the corpus content.
   */
  static Config withRunInputs(Config settings, RunCheckpoint last, java.nio.file.Path runDir, Dataset<Row> corpusRows) {
    try {
      return settings
          .withValue(OutputGuard.INPUTS + ".checkpoint", ConfigValueFactory.fromAnyRef(last.sha256()))
          .withValue(OutputGuard.INPUTS + ".training-log", ConfigValueFactory.fromAnyRef(
              TrainingExamples.fileSha256(runDir.resolve(TrainingLogs.FILE))))
          .withValue(OutputGuard.INPUTS + ".training-examples", ConfigValueFactory.fromAnyRef(
              TrainingExamples.fileSha256(runDir.resolve(TrainingExamples.FILE))))
          .withValue(OutputGuard.INPUTS + ".corpus", ConfigValueFactory.fromAnyRef(Corpus.fingerprint(corpusRows)));
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("cannot read the training log of " + runDir + ": " + e.getMessage(), e);
    }
  }

  static int readLogSize(java.nio.file.Path runDir) {
    try {
      return TrainingLogs.read(runDir).corpusSize();
    } catch (CheckpointFormatException e) {
      throw new IllegalArgumentException("score.method = sgd-influence: " + e.getMessage(), e);
    }
  }

  static List<TrainingExamples.Example> examples(java.nio.file.Path runDir) {
    try {
      return TrainingExamples.read(runDir).orElseThrow(() -> new IllegalArgumentException("score.method = "
          + "sgd-influence: " + runDir.resolve(TrainingExamples.FILE) + " does not exist, so the sequences of "
          + runDir.resolve(TrainingLogs.FILE) + " (numbered in the trainer's order) cannot be matched to the corpus "
          + "ids. HINT: the run was trained before `influence train` recorded them, or its corpus rows had no unique "
          + "`id`; retrain it with `influence train` (train.optimizer = sgd) on a corpus with ids"));
    } catch (CheckpointFormatException e) {
      throw new IllegalArgumentException("score.method = sgd-influence: " + e.getMessage(), e);
    }
  }

  /** The training sequences in the log's order, from the corpus file tokenised as the stages do. */
  static List<int[]> sequences(SparkSession spark, Dataset<Row> corpusRows, TrainingRun run,
                                       InfluenceSettings s, List<TrainingExamples.Example> examples,
                                       java.nio.file.Path runDir) {
    TokenizedCorpus tokenized = TokenizedCorpus.prepare(spark, corpusRows, run.checkpoints().get(0),
        s.input().badRows(), s.input().longText());
    Map<String, int[]> byId = new HashMap<>();
    try {
      for (Row r : tokenized.rows().collectAsList()) {
        List<Integer> t = r.getList(1);
        byId.put(r.getString(0), t.stream().mapToInt(Integer::intValue).toArray());
      }
    } finally {
      tokenized.release();
    }
    java.nio.file.Path file = runDir.resolve(TrainingExamples.FILE);
    List<int[]> out = new ArrayList<>();
    for (TrainingExamples.Example e : examples) {
      int[] tokens = byId.remove(e.id());
      if (tokens == null) {
        throw new IllegalArgumentException("score.method = sgd-influence: the run was trained on sequence \"" + e.id()
            + "\" (" + file + ", index " + e.index() + ") but the corpus " + s.input().corpus("score") + " has no "
            + "usable sequence of that id. HINT: score with the corpus the run was trained on (and the same "
            + "influence.input.long-text)");
      }
      if (!TrainingExamples.tokensSha256(tokens).equals(e.tokensSha256())) {
        throw new IllegalArgumentException("score.method = sgd-influence: the corpus's tokens of \"" + e.id()
            + "\" differ from those the run was trained on (" + file + ", index " + e.index() + "). HINT: score with "
            + "the corpus the run was trained on, unchanged");
      }
      out.add(tokens);
    }
    if (!byId.isEmpty()) {
      throw new IllegalArgumentException("score.method = sgd-influence: " + byId.size() + " corpus sequence(s) were "
          + "not trained on by the run, e.g. " + new TreeSet<>(byId.keySet()).stream().limit(5).toList() + " (" + file
          + " lists the trained ones). HINT: score with the corpus the run was trained on");
    }
    return out;
  }

  /** The queries encoded like the other methods' (prompt + completion; the loss counts the completion only). */
  static List<SgdInfluenceJob.Query> encode(List<Queries.Query> queries, RunCheckpoint last) {
    CausalLm model;
    try {
      model = CausalLm.load(last.dir(), DataType.FLOAT);
    } catch (CheckpointFormatException e) {
      throw new IllegalStateException("cannot load checkpoint " + last.dir() + ": " + e.getMessage(), e);
    }
    List<SgdInfluenceJob.Query> out = new ArrayList<>();
    for (PromptCompletion p : QueryGradients.encode(queries, last, model)) {
      out.add(new SgdInfluenceJob.Query(p.id(), p.tokens(), p.lossMask()));
    }
    return out;
  }
}
