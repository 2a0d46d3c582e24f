package io.influence.spark.ihvp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.grad.GradientExtractor;
import io.influence.core.hvp.GaussNewtonOperator;
import io.influence.core.hvp.TrainingSequences;
import io.influence.core.model.Gpt2Model;
import io.influence.core.model.KroneckerProjection;
import io.influence.core.solve.IhvpSolver;
import io.influence.core.solve.InverseHvpPreconditioner;
import io.influence.core.tracin.ExampleGradient;
import io.influence.spark.cli.InfluenceCommand;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.Settings;
import io.influence.spark.pipeline.Stages;
import io.influence.spark.score.ScoreJob;
import io.influence.spark.testing.LocalSpark;
import io.influence.spark.testing.TinyRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.IntStream;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import picocli.CommandLine;

/**
 * The score stage with {@code score.method = cg / lissa} on {@code local[2]} against a one-machine brute force:
 * the float64 model of the last checkpoint, {@link GaussNewtonOperator} over the whole corpus,
 * {@link InverseHvpPreconditioner} with the solver, each query's full gradient solved, dotted with every
 * training sequence's full per-example gradient (projected store: the solution and the gradients projected with
 * the store's seeded projection); top-5 and bottom-5 ids and scores compared, solver reports checked.
 */
class IhvpPipelineTest {

  /** Relative to the query's largest |score|: float32 stored gradients and scoring GEMM (measured 2e-7 to 3e-7). */
  private static final double TOLERANCE = 1e-5;
  /** LiSSA (stopped at its own step tolerance, 1e-6) against the exact solve (measured 3e-7 to 6e-7). */
  private static final double LISSA_TOLERANCE = 1e-4;
  private static final int K = 5;
  private static final double DAMPING = 0.03;
  /** Two tracked layers (the store's): the solves run over [64, 17] + [48, 17] = 1,904 parameters. */
  private static final List<String> LAYERS = List.of("h.0.mlp.c_fc", "h.1.attn.c_attn");

  @TempDir static Path dir;
  private static TinyRun tiny;
  private static Path runDir;
  private static Path queries;
  private static Path layersFile;
  private static final List<String[]> QUERIES = List.of(new String[] {"q1", "the red", " cat sleeps."},
      new String[] {"q2", "a blue bird", " sings quietly."});

  private final SparkSession spark = LocalSpark.get();

  @BeforeAll
  static void trainTinyModel() throws Exception {
    tiny = SharedTinyRun.get();
    runDir = SharedTinyRun.dir().resolve("run");
    queries = dir.resolve("queries.jsonl");
    StringBuilder b = new StringBuilder();
    for (String[] q : QUERIES) {
      b.append("{\"id\": \"").append(q[0]).append("\", \"prompt\": \"").append(q[1]).append("\", \"completion\": \"")
          .append(q[2]).append("\"}\n");
    }
    Files.writeString(queries, b);
    layersFile = dir.resolve("layers.conf");
    Files.writeString(layersFile, "influence.extract.layers = [\"" + String.join("\", \"", LAYERS) + "\"]\n");
  }

  /**
   * Settings for the output folder {@code out}: a full or projected (6 × 5, seed 42) store of {@link #LAYERS}, top-5,
   * damping {@link #DAMPING}, 20 sequences per HVP batch, and {@code extra}.
   */
  private InfluenceSettings settings(String out, boolean projected, Map<String, String> extra) {
    Map<String, String> m = new HashMap<>(Map.of("input.corpus", tiny.corpus().toString(),
        "input.run", runDir.toString(), "input.queries", queries.toString(),
        "output.dir", dir.resolve(out).toString(), "score.top-k", "" + K,
        "extract.projection.enabled", "" + projected, "extract.projection.k-in", "6",
        "extract.projection.k-out", "5", "ihvp.damping.value", "" + DAMPING));
    m.put("ihvp.batch-size", "20");
    m.putAll(extra);
    return Settings.load(Optional.of(layersFile), m);
  }

  @Test
  void score_cgOnFullStoreWithThreePartitions_equalsOneMachineBruteForce() {
    InfluenceSettings s = settings("full", false, Map.of("score.method", "cg", "ihvp.partitions", "3",
        "ihvp.cg.tolerance", "1e-9", "ihvp.cg.max-iterations", "200"));
    Stages.extract(spark, s);
    List<Row> rows = Stages.score(spark, s.with("output.overwrite", true)).collectAsList();
    double[][] expected = bruteForce(IhvpSolver.conjugateGradient(DAMPING, 1e-9, 200), false);
    compare(rows, expected, TOLERANCE, "cg");
    checkSolverColumn(rows, "cg");

    // preconditioned by the fitted EK-FAC (ASTRA): the same solve to the same tolerance, whatever the iterations
    InfluenceSettings pcg = s.with("ihvp.cg.preconditioner", "ekfac").with("score.folder", "scores-pcg");
    Stages.fitEkfac(spark, pcg);
    List<Row> pre = Stages.score(spark, pcg).collectAsList();
    compare(pre, expected, TOLERANCE, "cg preconditioned");
    checkSolverColumn(pre, "cg");
    JsonNode plainSolver = solverOf(rows);
    JsonNode preSolver = solverOf(pre);
    assertEquals("none", plainSolver.get("preconditioner").asText());
    assertEquals("ekfac", preSolver.get("preconditioner").asText());
    assertTrue(preSolver.get("checkpoints").get(0).get("solver").asText().contains("preconditioned"),
        preSolver.toString());
    System.out.printf("IhvpPipelineTest CG iterations plain %d, EK-FAC preconditioned %d%n",
        plainSolver.get("checkpoints").get(0).get("iterations").asInt(),
        preSolver.get("checkpoints").get(0).get("iterations").asInt());
  }

  /**
   * An Adam store (extract.optimizer-preconditioning = adam, rows {@code S g} with {@code S = diag(1 / (√v̂ + ε))}):
   * CG solves {@code (S H S + λI) x = S g_q} in Spark and scores {@code x} against the stored rows. The truth: the
   * congruence written out here over the one-machine GGN ({@code v ↦ S (H (S v)) + λ v}), solved by a one-machine
   * CG for {@code S g_q}, dotted with {@code S g} formed here from the raw (unscaled) per-example gradients.
   * (The same scores are {@code g_qᵀ (H + λ S⁻²)⁻¹ g}, but that form is too ill-conditioned to solve: S reaches
   * 1/ε = 1e8 where v̂ = 0.) EK-FAC-preconditioned CG is refused on such a store.
   */
  @Test
  void score_cgOnAdamStore_equalsOneMachineSolveInAdamCoordinates_andEkfacPreconditionerIsRefused() throws Exception {
    // relative damping: S spans orders of magnitude, so an absolute λ leaves S H S + λI too ill-conditioned to solve
    InfluenceSettings s = settings("adam-full", false, Map.of("score.method", "cg",
        "extract.optimizer-preconditioning", "adam", "ihvp.damping.mode", "relative", "ihvp.damping.value", "1",
        "ihvp.cg.tolerance", "1e-10", "ihvp.cg.max-iterations", "2000"));
    Stages.extract(spark, s);
    List<Row> rows = Stages.score(spark, s.with("output.overwrite", true)).collectAsList();

    RunCheckpoint last = tiny.run().checkpoints().get(tiny.run().checkpoints().size() - 1);
    Gpt2Model m64 = Gpt2Model.load(last.dir(), DataType.DOUBLE);
    List<int[]> corpus = tiny.texts().stream().map(tiny.tokenizer()::encode).toList();
    GaussNewtonOperator g = GaussNewtonOperator.create(m64, LAYERS, TrainingSequences.of(corpus, 8));
    io.influence.core.grad.AdamScaling adam = io.influence.core.grad.AdamScaling.of(m64, LAYERS,
        io.influence.checkpoints.OptimizerState.read(last.dir()));
    Map<String, INDArray> factors = new LinkedHashMap<>();
    LAYERS.forEach(l -> factors.put(l, adam.factors(l)));
    double[] sv = g.layout().toVector("adam", factors);
    scala.collection.Map<String, Double> used = rows.get(0).getAs("damping_lambda");
    double lambda = used.apply("step-6");
    System.out.printf("IhvpPipelineTest Adam factors in [%.3e, %.3e], relative damping λ = %.4e%n",
        Arrays.stream(sv).min().orElseThrow(), Arrays.stream(sv).max().orElseThrow(), lambda);
    io.influence.core.linalg.LinearOperator congruence = new io.influence.core.linalg.LinearOperator() {
      @Override
      public int dim() {
        return g.dim();
      }

      @Override
      public void apply(double[] v, double[] out) {
        double[] sv0 = new double[v.length];
        for (int i = 0; i < v.length; i++) {
          sv0[i] = sv[i] * v[i];
        }
        g.apply(sv0, out);
        for (int i = 0; i < out.length; i++) {
          out[i] = sv[i] * out[i] + lambda * v[i];
        }
      }
    };
    InverseHvpPreconditioner p = InverseHvpPreconditioner.of(IhvpSolver.conjugateGradient(0, 1e-12, 3000),
        congruence, g.layout(), true);
    Gpt2Model m32 = Gpt2Model.load(last.dir(), DataType.FLOAT);
    List<ExampleGradient> query = only(new GradientExtractor(m64, Map.of(), 1).extract(
        QUERIES.stream().map(q -> q[0]).toList(), QUERIES.stream().map(this::queryTokens).toList(),
        QUERIES.stream().map(this::queryMask).toList()));
    List<ExampleGradient> train = only(new GradientExtractor(m32, Map.of(), 1).extract(tiny.ids(), corpus, null));
    double[][] expected = new double[QUERIES.size()][train.size()];
    for (int q = 0; q < QUERIES.size(); q++) {
      double[] b = g.layout().toVector("query", query.get(q).layers());
      for (int i = 0; i < b.length; i++) {
        b[i] *= sv[i];
      }
      double[] x = g.layout().toVector("solved", p.apply(g.layout().fromVector(b, DataType.DOUBLE)));
      for (int t = 0; t < train.size(); t++) {
        double[] row = g.layout().toVector("train", train.get(t).layers());
        double acc = 0;
        for (int i = 0; i < row.length; i++) {
          acc += x[i] * sv[i] * row[i];
        }
        expected[q][t] = acc;
      }
    }
    compare(rows, expected, TOLERANCE, "cg adam");
    JsonNode solver = solverOf(rows);
    assertTrue(solver.get("converged").asBoolean(), solver.toString());
    assertEquals("relative", solver.get("damping_mode").asText());
    System.out.println("IhvpPipelineTest Adam CG solver column: " + solver);

    var refused = assertThrows(IllegalArgumentException.class, () -> Stages.score(spark,
        s.with("ihvp.cg.preconditioner", "ekfac").with("score.folder", "scores-pcg")));
    assertTrue(refused.getMessage().contains("optimizer-preconditioning") && refused.getMessage().contains(
        "ihvp.cg.preconditioner = none"), refused.getMessage());
  }

  private int[] queryTokens(String[] q) {
    return IntStream.concat(Arrays.stream(tiny.tokenizer().encode(q[1])), Arrays.stream(tiny.tokenizer().encode(q[2])))
        .toArray();
  }

  private int[] queryMask(String[] q) {
    int prompt = tiny.tokenizer().encode(q[1]).length;
    int[] m = new int[queryTokens(q).length];
    Arrays.fill(m, prompt, m.length, 1);
    return m;
  }

  private static JsonNode solverOf(List<Row> rows) {
    try {
      return new ObjectMapper().readTree((String) rows.get(0).getAs("solver"));
    } catch (java.io.IOException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void score_lissaOnFullStore_equalsExactSolve() {
    // λ_max of this GGN is about 0.07 (power iteration); scale 0.2 and damping 0.1 contract by <= 0.5 per step
    InfluenceSettings s = settings("full", false, Map.of("score.method", "lissa", "ihvp.damping.value", "0.1",
        "ihvp.lissa.scale", "0.2", "ihvp.lissa.depth", "100", "ihvp.lissa.tolerance", "1e-6"));
    Stages.extract(spark, s);
    List<Row> rows = Stages.score(spark, s.with("output.overwrite", true)).collectAsList();
    double[][] expected = bruteForce(IhvpSolver.conjugateGradient(0.1, 1e-12, 500), false);
    compare(rows, expected, LISSA_TOLERANCE, "lissa");
    checkSolverColumn(rows, "lissa");
    assertEquals("chebyshev", solverOf(rows).get("acceleration").asText(), "the default acceleration is recorded");

    // preconditioned by the fitted EK-FAC (ASTRA): the same solve, the interval estimated on M (H + λI)
    InfluenceSettings pre = s.with("ihvp.lissa.preconditioner", "ekfac").with("ihvp.lissa.tolerance", "1e-8")
        .with("score.folder", "scores-lissa-ekfac");
    Stages.fitEkfac(spark, pre);
    List<Row> preRows = Stages.score(spark, pre).collectAsList();
    compare(preRows, expected, LISSA_TOLERANCE, "lissa preconditioned");
    checkSolverColumn(preRows, "lissa");
    JsonNode preSolver = solverOf(preRows);
    assertEquals("ekfac", preSolver.get("preconditioner").asText());
    assertEquals("none", solverOf(rows).get("preconditioner").asText());
    assertTrue(preSolver.get("checkpoints").get(0).get("solver").asText().contains("preconditioned"),
        preSolver.toString());
    System.out.printf("IhvpPipelineTest LiSSA steps plain %d, EK-FAC preconditioned %d%n",
        solverOf(rows).get("checkpoints").get(0).get("iterations").asInt(),
        preSolver.get("checkpoints").get(0).get("iterations").asInt());
  }

  @Test
  void run_cgOnProjectedStore_equalsBruteForceInProjectedSpace_andChangedDampingIsRefused() throws Exception {
    Path out = dir.resolve("projected");
    String[] args = {"run", "--corpus", tiny.corpus().toString(), "--run", runDir.toString(),
        "--queries", queries.toString(), "--out", out.toString(), "--master", "local[2]",
        "-D", "score.top-k=" + K, "-D", "extract.projection.k-in=6", "-D", "extract.projection.k-out=5",
        "-D", "score.method=cg", "-D", "ihvp.damping.value=" + DAMPING, "-D", "ihvp.cg.tolerance=1e-9",
        "-D", "ihvp.cg.max-iterations=200", "-D", "ihvp.partitions=1", "-D", "ihvp.batch-size=20",
        "--config", layersFile.toString()};
    assertEquals(0, new CommandLine(new InfluenceCommand()).execute(args));
    List<Row> rows = LocalSpark.get().read().parquet(out.resolve(Stages.SCORES).resolve(ScoreJob.SCORES_FOLDER)
        .toString()).collectAsList();
    compare(rows, bruteForce(IhvpSolver.conjugateGradient(DAMPING, 1e-9, 200), true), TOLERANCE, "cg projected");
    checkSolverColumn(rows, "cg");
    List<String> summary = Files.readAllLines(out.resolve(Stages.SCORES).resolve(ScoreJob.SUMMARY_FILE));
    assertEquals(2 * K * QUERIES.size(), summary.size());
    JsonNode line = new ObjectMapper().readTree(summary.get(0));
    assertEquals("cg", line.get("method").asText());
    assertTrue(line.get("projection").asText().contains("5"), line.toString());
    assertTrue(new ObjectMapper().readTree(line.get("solver").asText()).get("converged").asBoolean(), line.toString());

    // EK-FAC preconditioning needs factors of full gradients: a projected store's are refused before any solve
    var projectedFactors = assertThrows(IllegalArgumentException.class, () -> Stages.score(LocalSpark.get(), settings("projected",
        true, Map.of("score.method", "cg", "ihvp.cg.preconditioner", "ekfac", "score.folder", "scores-pcg"))));
    assertTrue(projectedFactors.getMessage().contains("extract.projection.enabled = false"),
        projectedFactors.getMessage());

    var refused = assertThrows(IllegalStateException.class, () -> Stages.score(spark, settings("projected", true,
        Map.of("score.method", "cg", "ihvp.damping.value", "0.02", "ihvp.cg.tolerance", "1e-9", "ihvp.cg.max-iterations",
            "200", "ihvp.partitions", "1", "ihvp.batch-size", "20"))));
    assertTrue(refused.getMessage().contains("ihvp.damping"), refused.getMessage());
  }

  @Test
  void score_cgTooFewIterations_reportsNonConvergence_orFailsWhenRequired_lissaDivergenceFails() throws Exception {
    Map<String, String> few = new HashMap<>(Map.of("score.method", "cg", "ihvp.cg.max-iterations", "2",
        "ihvp.cg.tolerance", "1e-12"));
    InfluenceSettings s = settings("full", false, few);
    Stages.extract(spark, s);
    List<Row> rows = Stages.score(spark, s.with("output.overwrite", true)).collectAsList();
    for (Row r : rows) {
      JsonNode solver = new ObjectMapper().readTree((String) r.getAs("solver"));
      assertEquals(false, solver.get("converged").asBoolean(), solver.toString());
      assertEquals(2, solver.get("checkpoints").get(0).get("iterations").asInt(), solver.toString());
    }
    few.put("ihvp.require-convergence", "true");
    var e = assertThrows(IllegalStateException.class, () -> Stages.score(spark, settings("full", false, few).with("output.overwrite", true)));
    assertTrue(e.getMessage().contains("did not converge") && e.getMessage().contains("ihvp.cg.max-iterations")
        && e.getMessage().contains("q1"), e.getMessage());
    // scale below half of λ_max + λ: the Neumann series grows by about 1.6 per step
    var diverged = assertThrows(IllegalStateException.class, () -> Stages.score(spark, settings("full", false,
        Map.of("score.method", "lissa", "ihvp.damping.value", "0.01", "ihvp.lissa.scale", "0.03", "ihvp.lissa.depth", "10")).with("output.overwrite", true)));
    assertTrue(diverged.getMessage().contains("diverged") && diverged.getMessage().contains("ihvp.lissa.scale"),
        diverged.getMessage());
  }

  /**
   * One-machine scores {@code [query][train]}: the last checkpoint's float64 GGN over the corpus (in corpus order),
   * the query's full gradient solved by {@code solver}, dotted with the full (or projected) float32 training
   * gradients in float64.
   */
  private double[][] bruteForce(IhvpSolver solver, boolean projected) {
    try {
      RunCheckpoint last = tiny.run().checkpoints().get(tiny.run().checkpoints().size() - 1);
      Gpt2Model m64 = Gpt2Model.load(last.dir(), DataType.DOUBLE);
      Gpt2Model m32 = Gpt2Model.load(last.dir(), DataType.FLOAT);
      List<String> layers = LAYERS;
      List<int[]> corpus = tiny.texts().stream().map(tiny.tokenizer()::encode).toList();
      GaussNewtonOperator g = GaussNewtonOperator.create(m64, layers, TrainingSequences.of(corpus, 8));
      InverseHvpPreconditioner p = InverseHvpPreconditioner.of(solver, g, g.layout(), true);
      List<String> ids = new ArrayList<>();
      List<int[]> tokens = new ArrayList<>();
      List<int[]> masks = new ArrayList<>();
      for (String[] q : QUERIES) {
        int[] a = tiny.tokenizer().encode(q[1]);
        int[] b = tiny.tokenizer().encode(q[2]);
        int[] t = IntStream.concat(Arrays.stream(a), Arrays.stream(b)).toArray();
        int[] m = new int[t.length];
        Arrays.fill(m, a.length, t.length, 1);
        ids.add(q[0]);
        tokens.add(t);
        masks.add(m);
      }
      List<ExampleGradient> query = only(new GradientExtractor(m64, Map.of(), 1).extract(ids, tokens, masks));
      Map<String, KroneckerProjection> proj64 = projected ? m64.projections(layers, 6, 5, 42) : Map.of();
      List<ExampleGradient> train = only(new GradientExtractor(m32, projected ? m32.projections(layers, 6, 5, 42)
          : Map.of(), 1).extract(tiny.ids(), corpus, null));
      double[][] scores = new double[QUERIES.size()][train.size()];
      for (int q = 0; q < QUERIES.size(); q++) {
        Map<String, INDArray> x = new LinkedHashMap<>(p.apply(query.get(q).layers()));
        if (projected) {
          x.replaceAll((l, v) -> proj64.get(l).projectGradient(v));
        }
        for (int i = 0; i < train.size(); i++) {
          scores[q][i] = dot(x, train.get(i).layers());
        }
      }
      return scores;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** The gradients restricted to {@link #LAYERS} (full extraction returns every linear layer). */
  private static List<ExampleGradient> only(List<ExampleGradient> all) {
    List<ExampleGradient> out = new ArrayList<>();
    for (ExampleGradient g : all) {
      Map<String, INDArray> m = new LinkedHashMap<>();
      LAYERS.forEach(l -> m.put(l, g.layers().get(l)));
      out.add(new ExampleGradient(g.id(), m));
    }
    return out;
  }

  private void compare(List<Row> rows, double[][] expected, double tolerance, String what) {
    int n = tiny.ids().size();
    for (int q = 0; q < QUERIES.size(); q++) {
      String qid = QUERIES.get(q)[0];
      double[] s = expected[q];
      double scale = Arrays.stream(s).map(Math::abs).max().orElseThrow();
      List<Integer> order = IntStream.range(0, n).boxed()
          .sorted(Comparator.comparingDouble((Integer i) -> -s[i]).thenComparing(i -> tiny.ids().get(i))).toList();
      double worst = 0;
      for (int rank = 1; rank <= K; rank++) {
        int i = order.get(rank - 1);
        Row top = find(rows, qid, "top", rank);
        assertEquals(tiny.ids().get(i), top.getAs("train_id"), what + " " + qid + " top rank " + rank);
        assertEquals(s[i], (double) top.getAs("score"), tolerance * scale, what + " " + qid + " top score " + rank);
        assertEquals(what.split(" ")[0], top.getAs("method"));
        int j = order.get(n - rank);
        Row bottom = find(rows, qid, "bottom", rank);
        assertEquals(tiny.ids().get(j), bottom.getAs("train_id"), what + " " + qid + " bottom rank " + rank);
        assertEquals(s[j], (double) bottom.getAs("score"), tolerance * scale, what + " " + qid + " bottom score " + rank);
        worst = Math.max(worst, Math.max(Math.abs(s[i] - (double) top.getAs("score")),
            Math.abs(s[j] - (double) bottom.getAs("score"))) / scale);
      }
      System.out.printf("IhvpPipelineTest %s %s: worst relative score difference %.2e (scale %.3e)%n", what, qid, worst,
          scale);
    }
  }

  private static void checkSolverColumn(List<Row> rows, String method) {
    for (Row r : rows) {
      try {
        JsonNode solver = new ObjectMapper().readTree((String) r.getAs("solver"));
        if ((int) r.getAs("rank") == 1 && "top".equals(r.getAs("direction"))) {
          System.out.println("IhvpPipelineTest solver column of " + r.getAs("query_id") + ": " + solver);
        }
        assertEquals(method, solver.get("method").asText());
        assertEquals("ggn", solver.get("curvature").asText());
        assertEquals(tiny.ids().size(), solver.get("training_sequences").asInt());
        assertTrue(solver.get("converged").asBoolean(), solver.toString());
        JsonNode c = solver.get("checkpoints");
        assertEquals(1, c.size(), "ihvp.checkpoints = last");
        assertEquals("step-6", c.get(0).get("checkpoint").asText());
        assertTrue(c.get(0).get("iterations").asInt() > 0 && c.get(0).get("relative_residual").asDouble() < 1e-5,
            solver.toString());
        assertEquals(solver.get("damping").asDouble(), (double) r.getAs("damping"), 0.0);
        // provenance: the mode as set and the λ used at each checkpoint, in the row and the solver column
        assertEquals("absolute", r.getAs("damping_mode"));
        assertEquals("absolute", solver.get("damping_mode").asText());
        scala.collection.Map<String, Double> lambda = r.getAs("damping_lambda");
        assertEquals(solver.get("damping").asDouble(), lambda.apply("step-6"), 0.0);
        assertEquals(lambda.apply("step-6"), c.get(0).get("damping_lambda").asDouble(), 0.0);
      } catch (java.io.IOException e) {
        throw new AssertionError(e);
      }
    }
  }

  private static double dot(Map<String, INDArray> a, Map<String, INDArray> b) {
    double s = 0;
    for (Map.Entry<String, INDArray> e : a.entrySet()) {
      double[] x = e.getValue().castTo(DataType.DOUBLE).dup('c').data().asDouble();
      double[] y = b.get(e.getKey()).castTo(DataType.DOUBLE).dup('c').data().asDouble();
      for (int i = 0; i < x.length; i++) {
        s += x[i] * y[i];
      }
    }
    return s;
  }

  private static Row find(List<Row> rows, String query, String direction, int rank) {
    return rows.stream().filter(r -> query.equals(r.getAs("query_id")) && direction.equals(r.getAs("direction"))
        && rank == (int) r.getAs("rank")).findFirst().orElseThrow(() -> new AssertionError(
            "no row for " + query + " " + direction + " " + rank));
  }
}
