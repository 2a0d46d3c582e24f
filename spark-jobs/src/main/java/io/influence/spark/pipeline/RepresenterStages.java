package io.influence.spark.pipeline;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValueFactory;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.checkpoints.TrainingRun;
import io.influence.spark.config.FlagSettings;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.Method;
import io.influence.spark.config.OutputGuard;
import io.influence.spark.config.SelfInfluenceSettings;
import io.influence.spark.extract.ExtractJob;
import io.influence.spark.flag.FlagJob;
import io.influence.spark.io.Corpus;
import io.influence.spark.io.Locations;
import io.influence.spark.io.Queries;
import io.influence.spark.io.Runs;
import io.influence.spark.representer.RepresenterCleaning;
import io.influence.spark.representer.RepresenterJob;
import io.influence.spark.selfinf.SelfInfluenceJob;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * The self-influence and flag stages for representer points ({@code self-influence.method = representer},
 * {@code flag.method = representer}): no gradient store, the last checkpoint's head fitted as the score stage fits it
 * (the saved fit under {@code representer/} is shared and reused while checkpoint, corpus and the
 * {@code representer} block hold), into the usual folders with the usual schemas ({@link RepresenterCleaning}).
 *
 * <p>Fingerprint ({@link OutputGuard}): the stage's block, {@code input} (without the queries) and
 * {@code representer}, plus as inputs the last checkpoint's SHA-256 and the corpus content fingerprint (and, for
 * flag, the examples' content and, when combined, the self-influence block).
 */
final class RepresenterStages {

  /** What the flag stage's {@code normalisation} provenance says for representer points. */
  static final String NORMALISATION = "representer score / Frobenius norm of the example's target matrix "
      + "Σ_t e_{y_t} f_tᵀ";

  private RepresenterStages() {}

  static boolean handles(Method method) {
    return method == Method.REPRESENTER;
  }

  static Dataset<Row> selfInfluence(SparkSession spark, InfluenceSettings s) {
    Path out = Locations.resolve(spark, s.output().dir());
    Path corpus = Locations.resolve(spark, s.input().corpus(Stages.SELF_INFLUENCE));
    RunCheckpoint last = last(Stages.run(s, Stages.SELF_INFLUENCE));
    Config settings = inputs(spark, s, Stages.SELF_INFLUENCE, last, corpus);
    boolean perToken = s.selfInfluence().normalize() == SelfInfluenceSettings.Normalization.PER_TOKEN;
    return OutputGuard.whileClaimed(out, Stages.SELF_INFLUENCE, settings, s.output().overwrite(),
        () -> Stages.logged(spark, out, Stages.SELF_INFLUENCE, () -> SelfInfluenceJob.publish(spark,
            () -> RepresenterCleaning.selfInfluence(spark, fit(s, last, out), corpus, perToken).rows(),
            s.selfInfluence().flagFraction(), new Path(out, Stages.SELF_INFLUENCE))));
  }

  static Dataset<Row> flag(SparkSession spark, InfluenceSettings s) {
    Path out = Locations.resolve(spark, s.output().dir());
    FlagSettings f = s.flag();
    Path corpus = Locations.resolve(spark, s.input().corpus(Stages.FLAG));
    String examplesFile = f.examples(Stages.FLAG);
    RunCheckpoint last = last(Stages.run(s, Stages.FLAG));
    List<Queries.Query> examples = Queries.read(spark, examplesFile);
    boolean combine = f.combine() == FlagSettings.CombineSelfInfluence.RANK_MEAN;
    Dataset<Row> self = combine ? Stages.selfInfluence(spark, s) : null;
    Config settings = inputs(spark, s, Stages.FLAG, last, corpus)
        .withValue(OutputGuard.INPUTS + ".examples", ConfigValueFactory.fromAnyRef(Runs.sha256(examples.stream()
            .map(q -> q.id() + "\0" + q.prompt() + "\0" + q.completion())
            .collect(java.util.stream.Collectors.joining("\n")))));
    if (combine) {
      settings = settings.withFallback(s.section(Stages.SELF_INFLUENCE));
    }
    String digest = Runs.sha256(settings.root().render(ConfigRenderOptions.concise()));
    String[] ids = examples.stream().map(Queries.Query::id).toArray(String[]::new);
    String[] fitDescription = {null};
    return OutputGuard.whileClaimed(out, f.folder(), settings, s.output().overwrite(),
        () -> FlagJob.publish(spark, () -> {
          RepresenterCleaning.Pass pass = RepresenterCleaning.flagAggregates(spark, fit(s, last, out), corpus, examples,
              f.blockRows());
          fitDescription[0] = pass.fit();
          return pass.rows();
        }, ids, f.aggregate(), self, f.fraction(), f.topK(), new Path(out, f.folder()), (n, flagged, selection) -> {
          Map<String, Object> m = FlagJob.provenanceBase(Method.REPRESENTER.word(), f.aggregate(), NORMALISATION,
              combine, selection, n, flagged, examplesFile, ids);
          m.put("checkpoints", List.of(Map.of("name", ExtractJob.checkpointName(last), "sha256", last.sha256(),
              "weight", 1.0)));
          m.put("projection", "none: lm_head input features, head fine-tuned with L2 λ = " + s.representer().lambda());
          m.put("solver", fitDescription[0]);
          m.put("settings_fingerprint", digest);
          m.put("engine_version", io.influence.spark.score.ScoreJob.ENGINE_VERSION);
          return FlagJob.provenanceText(m);
        }));
  }

  private static RepresenterJob.Fit fit(InfluenceSettings s, RunCheckpoint last, Path out) {
    return new RepresenterJob.Fit(last, s.representer(), s.input().badRows(), s.input().longText(),
        new Path(out, Stages.REPRESENTER));
  }

  /** The stage's, input's (without queries) and representer's settings, the checkpoint's hash and the corpus's. */
  private static Config inputs(SparkSession spark, InfluenceSettings s, String stage, RunCheckpoint last,
                               Path corpus) {
    return s.section(stage, "input", Stages.REPRESENTER).withoutPath("input.queries")
        .withValue(OutputGuard.INPUTS + ".checkpoints." + ExtractJob.checkpointName(last),
            ConfigValueFactory.fromAnyRef(last.sha256() + " " + Corpus.fingerprint(Corpus.read(spark, corpus,
                s.input().badRows()))));
  }

  private static RunCheckpoint last(TrainingRun run) {
    return run.checkpoints().get(run.checkpoints().size() - 1);
  }
}
