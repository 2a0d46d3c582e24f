package io.influence.spark.pipeline;

import com.typesafe.config.Config;
import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.checkpoints.TrainingRun;
import io.influence.checkpoints.TrainingRuns;
import io.influence.core.grad.GradientExtractor;
import io.influence.core.model.Gpt2Model;
import io.influence.core.model.KroneckerProjection;
import io.influence.core.tokenizer.Tokenizer;
import io.influence.core.tracin.ExampleGradient;
import io.influence.spark.config.OutputGuard;
import io.influence.spark.config.Settings;
import io.influence.spark.extract.ExtractJob;
import io.influence.spark.extract.ExtractSpec;
import io.influence.spark.io.Corpus;
import io.influence.spark.io.Queries;
import io.influence.spark.score.QueryGradient;
import io.influence.spark.score.ScoreJob;
import io.influence.spark.score.ScoreSpec;
import io.influence.spark.selfinf.SelfInfluenceJob;
import io.influence.spark.selfinf.SelfInfluenceSpec;
import io.influence.spark.store.GradientStore;
import io.influence.spark.store.StoreMetadata;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The pipeline's stages as functions of {@code (SparkSession, settings)}: what each
 * {@code influence} subcommand calls, and what tests call. Every stage writes under
 * {@code influence.output.dir}: {@code gradients/}, {@code self-influence/}, {@code scores/}, with
 * the settings it ran with saved beside them (an output written with other settings is refused
 * unless {@code overwrite}).
 */
public final class Stages {

  public static final String GRADIENTS = "gradients";
  public static final String SELF_INFLUENCE = "self-influence";
  public static final String SCORES = "scores";

  private Stages() {}

  /** Per-example gradients of the corpus at every checkpoint of the run. */
  public static ExtractJob.Result extract(SparkSession spark, Config s, boolean overwrite) {
    Path out = Path.of(s.getString("output.dir"));
    Config stageSettings = s.withOnlyPath("input").withFallback(s.withOnlyPath("extract"));
    OutputGuard.claim(out, GRADIENTS, stageSettings, overwrite);
    Dataset<Row> corpus = Corpus.read(spark, Settings.requiredPath(s, "input.corpus", "extract"));
    Config e = s.getConfig("extract");
    ExtractSpec.Projection projection = e.getBoolean("projection.enabled")
        ? new ExtractSpec.Projection(e.getInt("projection.k-in"), e.getInt("projection.k-out"),
            e.getLong("projection.seed")) : null;
    List<String> layers = e.getStringList("layers");
    ExtractSpec.BadRowPolicy policy = switch (s.getString("input.bad-rows")) {
      case "fail" -> ExtractSpec.BadRowPolicy.FAIL;
      case "skip" -> ExtractSpec.BadRowPolicy.SKIP;
      default -> throw new IllegalArgumentException("influence.input.bad-rows must be \"fail\" or \"skip\", got "
          + s.getString("input.bad-rows"));
    };
    return ExtractJob.run(spark, new ExtractSpec(corpus, run(s, "extract"), out.resolve(GRADIENTS), projection,
        layers.isEmpty() ? null : layers, e.getInt("batch-size"), policy));
  }

  /** TracIn self-influence of every training sequence over the extracted checkpoints. */
  public static Dataset<Row> selfInfluence(SparkSession spark, Config s, boolean overwrite) {
    Path out = Path.of(s.getString("output.dir"));
    Path store = out.resolve(GRADIENTS);
    OutputGuard.claim(out, SELF_INFLUENCE, s.withOnlyPath("self-influence").withFallback(s.withOnlyPath("input")),
        overwrite);
    List<String> names = extracted(spark, store);
    List<Double> rates = names.stream().map(n -> GradientStore.metadata(spark, store, n).learningRate()).toList();
    return SelfInfluenceJob.run(spark, new SelfInfluenceSpec(store, names, rates,
        s.getDouble("self-influence.flag-fraction"), null, out.resolve(SELF_INFLUENCE)));
  }

  /** TracIn scores of every query against every training sequence; top-k and bottom-k joined to the text. */
  public static Dataset<Row> score(SparkSession spark, Config s, boolean overwrite) {
    Path out = Path.of(s.getString("output.dir"));
    Path store = out.resolve(GRADIENTS);
    OutputGuard.claim(out, SCORES, s.withOnlyPath("score").withFallback(s.withOnlyPath("input")), overwrite);
    List<Queries.Query> queries = Queries.read(spark, Settings.requiredPath(s, "input.queries", "score"));
    List<String> names = extracted(spark, store);
    Map<String, RunCheckpoint> byName = new HashMap<>();
    for (RunCheckpoint c : run(s, "score").checkpoints()) {
      byName.put(ExtractJob.checkpointName(c), c);
    }
    List<List<Map<String, INDArray>>> perQuery = new ArrayList<>();
    queries.forEach(q -> perQuery.add(new ArrayList<>()));
    List<Double> rates = new ArrayList<>();
    for (String name : names) {
      RunCheckpoint c = byName.get(name);
      if (c == null) {
        throw new IllegalStateException("the gradient store has checkpoint " + name + " but the run "
            + s.getString("input.run") + " does not. HINT: extract again for this run (--overwrite)");
      }
      rates.add(c.learningRate());
      List<ExampleGradient> g = queryGradients(queries, c, GradientStore.metadata(spark, store, name));
      for (int i = 0; i < g.size(); i++) {
        perQuery.get(i).add(g.get(i).layers());
      }
    }
    List<QueryGradient> qs = new ArrayList<>();
    for (int i = 0; i < queries.size(); i++) {
      qs.add(QueryGradient.ofArrays(queries.get(i).id(), perQuery.get(i)));
    }
    return ScoreJob.run(spark, new ScoreSpec(store, names, rates, qs, s.getInt("score.top-k"),
        s.getInt("score.block-rows"), "tracin", null, Settings.requiredPath(s, "input.corpus", "score"),
        out.resolve(SCORES)));
  }

  /**
   * Gradients of each query's completion tokens (prompt and completion tokenised separately and
   * concatenated; the loss mask covers the completion), in the store's gradient space.
   */
  public static List<ExampleGradient> queryGradients(List<Queries.Query> queries, RunCheckpoint c, StoreMetadata meta) {
    try {
      Gpt2Model model = Gpt2Model.load(c.dir(), DataType.FLOAT);
      Tokenizer tokenizer = Tokenizer.fromTokenizerJson(c.dir().resolve("tokenizer.json"));
      Map<String, KroneckerProjection> projections = new LinkedHashMap<>();
      if (meta.projectionSeed() != null) {
        for (StoreMetadata.Layer l : meta.layers()) {
          int[] shape = model.linearShape(l.name());
          projections.put(l.name(), KroneckerProjection.create(l.name(), shape[1], shape[0], l.cols(), l.rows(),
              meta.projectionSeed(), DataType.FLOAT));
        }
      }
      List<String> ids = new ArrayList<>();
      List<int[]> tokens = new ArrayList<>();
      List<int[]> masks = new ArrayList<>();
      for (Queries.Query q : queries) {
        int[] p = tokenizer.encode(q.prompt());
        int[] r = tokenizer.encode(q.completion());
        int[] t = new int[p.length + r.length];
        int[] m = new int[t.length];
        System.arraycopy(p, 0, t, 0, p.length);
        System.arraycopy(r, 0, t, p.length, r.length);
        for (int i = Math.max(1, p.length); i < t.length; i++) {
          m[i] = 1;
        }
        if (t.length > model.config().nPositions()) {
          throw new IllegalArgumentException("query " + q.id() + " has " + t.length + " tokens, over the model's context of "
              + model.config().nPositions());
        }
        ids.add(q.id());
        tokens.add(t);
        masks.add(m);
      }
      return new GradientExtractor(model, projections, 16).extract(ids, tokens, masks);
    } catch (CheckpointFormatException e) {
      throw new IllegalStateException("cannot load checkpoint " + c.dir() + ": " + e.getMessage(), e);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the tokenizer of " + c.dir() + ": " + e.getMessage(), e);
    }
  }

  private static TrainingRun run(Config s, String stage) {
    Path dir = Settings.requiredPath(s, "input.run", stage);
    OptionalDouble constant = s.getIsNull("input.constant-learning-rate") ? OptionalDouble.empty()
        : OptionalDouble.of(s.getDouble("input.constant-learning-rate"));
    try {
      return TrainingRuns.read(dir, constant);
    } catch (CheckpointFormatException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
  }

  private static List<String> extracted(SparkSession spark, Path store) {
    List<String> names = GradientStore.checkpoints(store);
    if (names.isEmpty()) {
      throw new IllegalStateException("no extracted gradients in " + store + ". HINT: run `influence extract` first");
    }
    return names;
  }
}
