package io.influence.spark.pipeline;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValueFactory;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.checkpoints.TrainingExamples;
import io.influence.checkpoints.TrainingLog;
import io.influence.checkpoints.TrainingLogs;
import io.influence.checkpoints.TrainingRun;
import io.influence.core.model.TokenBatch;
import io.influence.core.sgdinfluence.LmReplay;
import io.influence.spark.config.FlagSettings;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.Method;
import io.influence.spark.config.OutputGuard;
import io.influence.spark.config.SelfInfluenceSettings;
import io.influence.spark.flag.FlagJob;
import io.influence.spark.io.Corpus;
import io.influence.spark.io.Locations;
import io.influence.spark.io.Queries;
import io.influence.spark.io.Runs;
import io.influence.spark.selfinf.SelfInfluenceJob;
import io.influence.spark.sgdinfluence.SgdInfluenceJob;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * The self-influence and flag stages for {@code sgd-influence} (Hara et al. 2019): the recorded plain-SGD run is
 * replayed ({@link LmReplay}), no gradient store. The run is mapped onto the corpus exactly as the score stage does
 * ({@link SgdInfluenceStage}).
 *
 * <ul>
 *   <li>Self-influence of sequence {@code z}: {@code L_z(run without z) − L_z(run)} predicted by replaying
 *       {@code ∇L_z(θ_T)} backwards ({@link LmReplay#selfScores}): <b>one backward replay of the whole run per
 *       sequence</b>. A corpus of more than {@code self-influence.sgd-influence-max-sequences} sequences is refused
 *       before any work, naming that setting. Spark tasks take blocks of sequences; each replays the run forward
 *       once and backwards once per sequence of its block.</li>
 *   <li>Flag: one replay (one task) with every unwanted example's final gradient as a query vector; each example's
 *       scores divided by the norm of that vector {@code ‖∇L_e(θ_T)‖} (the vector it is scored with, as the flag
 *       stage does for every method), then mean, max and strongest example per sequence ({@link FlagJob}).</li>
 * </ul>
 */
final class SgdInfluenceCleaning {

  private static final StructType SCORED = new StructType().add("train_id", DataTypes.StringType, false)
      .add("score", DataTypes.DoubleType, false);
  private static final StructType AGGREGATES = new StructType()
      .add("train_id", DataTypes.StringType, false)
      .add("mean", DataTypes.DoubleType, false)
      .add("max", DataTypes.DoubleType, false)
      .add("strongest_example", DataTypes.StringType, false);
  static final String NORMALISATION = "replayed score / norm of the example's final loss gradient ‖∇L_e(θ_T)‖";

  private SgdInfluenceCleaning() {}

  static boolean handles(Method method) {
    return method == Method.SGD_INFLUENCE;
  }

  /** The run's folder, log, examples and last checkpoint, checked on the driver. */
  private record Replayable(java.nio.file.Path runDir, TrainingRun run, TrainingLog log,
                            List<TrainingExamples.Example> examples, RunCheckpoint last, Config inputs) {}

  private static Replayable replayable(InfluenceSettings s, String stage, SparkSession spark, Dataset<Row> corpusRows) {
    String runLocation = s.input().run(stage);
    Path runPath = Locations.resolve(spark, runLocation);
    if (!Locations.isLocal(runPath)) {
      throw new IllegalArgumentException(stage + " with sgd-influence replays the run from its local folder, but "
          + "input.run = " + runLocation + " is not on the local file system. HINT: copy the run folder to a local path");
    }
    java.nio.file.Path runDir = Locations.toLocal(runPath);
    TrainingRun run = Stages.run(s, stage);
    TrainingLog log = SgdInfluenceJob.preflight(runDir, SgdInfluenceStage.readLogSize(runDir));
    List<TrainingExamples.Example> examples = SgdInfluenceStage.examples(runDir);
    RunCheckpoint last = run.checkpoints().get(run.checkpoints().size() - 1);
    if (last.step() != log.steps().size()) {
      throw new IllegalArgumentException(runDir.resolve(TrainingLogs.FILE) + " records " + log.steps().size()
          + " steps but the run's last checkpoint is at step " + last.step() + ". HINT: use the run as `influence "
          + "train` left it");
    }
    Config inputs = SgdInfluenceStage.withRunInputs(s.section(stage, "input").withoutPath("input.queries"), last,
        runDir, corpusRows);
    return new Replayable(runDir, run, log, examples, last, inputs);
  }

  static Dataset<Row> selfInfluence(SparkSession spark, InfluenceSettings s) {
    Path out = Locations.resolve(spark, s.output().dir());
    String stage = Stages.SELF_INFLUENCE;
    Dataset<Row> corpusRows = Corpus.read(spark, Locations.resolve(spark, s.input().corpus(stage)), s.input().badRows());
    Replayable r = replayable(s, stage, spark, corpusRows);
    int max = s.selfInfluence().sgdInfluenceMaxSequences();
    int n = r.examples().size();
    if (n > max) {
      throw new IllegalArgumentException(String.format(java.util.Locale.ROOT, "self-influence.method = sgd-influence "
          + "replays the whole run backwards once per training sequence: the run has %d sequences and %d steps (%d "
          + "backward replays, each with per-example gradients and 2 gradient passes per step), more than "
          + "influence.self-influence.sgd-influence-max-sequences = %d. HINT: raise that setting if you accept the "
          + "cost, or use self-influence.method = tracin, ekfac or representer", n, r.log().steps().size(), n, max));
    }
    boolean perToken = s.selfInfluence().normalize() == SelfInfluenceSettings.Normalization.PER_TOKEN;
    return OutputGuard.whileClaimed(out, stage, r.inputs(), s.output().overwrite(),
        () -> Stages.logged(spark, out, stage, () -> SelfInfluenceJob.publish(spark, () -> {
          List<int[]> sequences = SgdInfluenceStage.sequences(spark, corpusRows, r.run(), s, r.examples(), r.runDir());
          List<String> ids = r.examples().stream().map(TrainingExamples.Example::id).toList();
          JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
          int tasks = Math.max(1, Math.min(n, jsc.defaultParallelism()));
          List<int[]> blocks = new ArrayList<>();
          for (int t = 0; t < tasks; t++) {
            int from = (int) ((long) n * t / tasks);
            int to = (int) ((long) n * (t + 1) / tasks);
            int[] block = new int[to - from];
            for (int i = 0; i < block.length; i++) {
              block[i] = from + i;
            }
            blocks.add(block);
          }
          Broadcast<List<int[]>> corpus = jsc.broadcast(new ArrayList<>(sequences));
          String runDir = r.runDir().toAbsolutePath().toString();
          List<Row> rows = jsc.parallelize(blocks, blocks.size()).flatMap(block -> {
            LmReplay replay = LmReplay.open(java.nio.file.Path.of(runDir), corpus.value());
            double[] self = replay.selfScores(block, block.length);
            List<Row> done = new ArrayList<>();
            for (int i = 0; i < block.length; i++) {
              int predicted = corpus.value().get(block[i]).length - 1;
              done.add(RowFactory.create(ids.get(block[i]), perToken ? self[i] / predicted : self[i]));
            }
            return done.iterator();
          }).collect();
          corpus.destroy();
          return spark.createDataFrame(rows, SCORED);
        }, s.selfInfluence().flagFraction(), new Path(out, stage))));
  }

  static Dataset<Row> flag(SparkSession spark, InfluenceSettings s) {
    Path out = Locations.resolve(spark, s.output().dir());
    String stage = Stages.FLAG;
    FlagSettings f = s.flag();
    Dataset<Row> corpusRows = Corpus.read(spark, Locations.resolve(spark, s.input().corpus(stage)), s.input().badRows());
    Replayable r = replayable(s, stage, spark, corpusRows);
    String examplesFile = f.examples(stage);
    List<Queries.Query> examples = Queries.read(spark, examplesFile);
    boolean combine = f.combine() == FlagSettings.CombineSelfInfluence.RANK_MEAN;
    Dataset<Row> self = combine ? Stages.selfInfluence(spark, s) : null;
    Config settings = r.inputs().withValue(OutputGuard.INPUTS + ".examples", ConfigValueFactory.fromAnyRef(
        Runs.sha256(examples.stream().map(q -> q.id() + "\0" + q.prompt() + "\0" + q.completion())
            .collect(Collectors.joining("\n")))));
    if (combine) {
      settings = settings.withFallback(s.section(Stages.SELF_INFLUENCE));
    }
    String digest = Runs.sha256(settings.root().render(ConfigRenderOptions.concise()));
    String[] exampleIds = examples.stream().map(Queries.Query::id).toArray(String[]::new);
    return OutputGuard.whileClaimed(out, f.folder(), settings, s.output().overwrite(),
        () -> FlagJob.publish(spark, () -> {
          List<int[]> sequences = SgdInfluenceStage.sequences(spark, corpusRows, r.run(), s, r.examples(), r.runDir());
          List<String> ids = r.examples().stream().map(TrainingExamples.Example::id).toList();
          List<SgdInfluenceJob.Query> encoded = SgdInfluenceStage.encode(examples, r.last());
          JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
          Broadcast<List<int[]>> corpus = jsc.broadcast(new ArrayList<>(sequences));
          String runDir = r.runDir().toAbsolutePath().toString();
          List<Row> rows = jsc.parallelize(List.of(new ArrayList<>(encoded)), 1).flatMap(block -> {
            LmReplay replay = LmReplay.open(java.nio.file.Path.of(runDir), corpus.value());
            List<TokenBatch> batches = block.stream().map(SgdInfluenceJob.Query::batch).toList();
            double[][] g = replay.finalGradients(batches);
            double[][] scores = replay.scores(batches);
            int e = block.size();
            double[] norms = new double[e];
            for (int k = 0; k < e; k++) {
              double sq = 0;
              for (double x : g[k]) {
                sq += x * x;
              }
              norms[k] = Math.sqrt(sq);
            }
            List<Row> done = new ArrayList<>();
            for (int j = 0; j < ids.size(); j++) {
              double sum = 0;
              double max = Double.NEGATIVE_INFINITY;
              int strongest = 0;
              for (int k = 0; k < e; k++) {
                double x = norms[k] > 0 ? scores[k][j] / norms[k] : 0;
                sum += x;
                if (x > max) {
                  max = x;
                  strongest = k;
                }
              }
              done.add(RowFactory.create(ids.get(j), sum / e, max, block.get(strongest).id()));
            }
            return done.iterator();
          }).collect();
          corpus.destroy();
          return spark.createDataFrame(rows, AGGREGATES);
        }, exampleIds, f.aggregate(), self, f.fraction(), f.topK(), new Path(out, f.folder()), (n, flagged, selection) -> {
          Map<String, Object> m = FlagJob.provenanceBase(Method.SGD_INFLUENCE.word(), f.aggregate(), NORMALISATION,
              combine, selection, n, flagged, examplesFile, exampleIds);
          m.put("checkpoints", List.of(Map.of("name", r.last().dir().getFileName().toString(), "sha256",
              r.last().sha256(), "weight", 1.0)));
          m.put("projection", "none");
          m.put("solver", "{\"replay\": \"plain SGD, " + r.log().steps().size() + " steps, backward HVPs by central "
              + "differences\"}");
          m.put("settings_fingerprint", digest);
          m.put("engine_version", io.influence.spark.score.ScoreJob.ENGINE_VERSION);
          return FlagJob.provenanceText(m);
        }));
  }
}
