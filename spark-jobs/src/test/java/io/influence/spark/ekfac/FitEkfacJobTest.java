package io.influence.spark.ekfac;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.ekfac.Damping;
import io.influence.ekfac.KroneckerPreconditioners;
import io.influence.ekfac.LayerFactors;
import io.influence.spark.config.BadRows;
import io.influence.spark.config.Fisher;
import io.influence.spark.io.Locations;
import io.influence.spark.config.LongText;
import io.influence.spark.config.ExtractSettings.Projection;
import io.influence.spark.extract.ExtractJob;
import io.influence.spark.extract.ExtractSpec;
import io.influence.spark.io.Corpus;
import io.influence.spark.store.GradientStore;
import io.influence.spark.store.StoreMetadata;
import io.influence.spark.testing.LocalSpark;
import io.influence.spark.testing.TinyRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * fit-ekfac on {@code local[2]} against factors fitted on one machine ({@link OneMachineEkfac}) from the same
 * token factors and stored gradients: equal counts, eigenvalues, and EK-FAC / K-FAC preconditioned random
 * matrices (invariant to eigenvector signs and bases of repeated eigenvalues), for 1 and 3 partitions, projected
 * and full stores; a re-run is a no-op and a crashed fit is cleaned up and redone.
 */
class FitEkfacJobTest {

  /** Relative to the largest entry of the compared array (float32 model passes, batched vs one at a time; measured worst 3e-7). */
  private static final double TOLERANCE = 1e-5;

  @TempDir static Path dir;
  private static TinyRun tiny;

  private final SparkSession spark = LocalSpark.get();

  @BeforeAll
  static void trainTinyModel() throws Exception {
    tiny = TinyRun.create(dir);
  }

  /** The class's gradient store of {@code kind} ("projected" 5×6, seed 42, or "full"), extracted on first use. */
  private Path store(String kind) {
    Path store = dir.resolve("store-" + kind).resolve("gradients");
    if (Files.exists(store)) {
      return store;
    }
    Projection projection = kind.equals("full") ? null : new Projection(6, 5, 42);
    ExtractJob.run(spark, new ExtractSpec(Corpus.read(spark, tiny.corpus()), tiny.run(), store, projection, null, 8,
        BadRows.FAIL, LongText.WINDOWS));
    return store;
  }

  private FitEkfacJob.Result fit(Path store, Path factors, int partitions) {
    return FitEkfacJob.run(spark, new FitEkfacSpec(Corpus.read(spark, tiny.corpus()).repartition(partitions),
        tiny.run(), GradientStore.checkpoints(store), store, factors, 8, partitions, BadRows.FAIL, LongText.WINDOWS));
  }

  private Map<String, Map<String, INDArray>> stored(Path store, String checkpoint, StoreMetadata meta) {
    Map<String, Map<String, INDArray>> out = new HashMap<>();
    for (Row r : GradientStore.read(spark, store, checkpoint).collectAsList()) {
      Map<String, INDArray> layers = new HashMap<>();
      float[][] values = io.influence.spark.store.StoredRow.layers(r, meta);
      for (int i = 0; i < values.length; i++) {
        StoreMetadata.Layer l = meta.layers().get(i);
        float[] f = values[i];
        layers.put(l.name(), Nd4j.create(f, new long[] {l.rows(), l.cols()}, 'c'));
      }
      out.put(r.getString(0), layers);
    }
    return out;
  }

  @ParameterizedTest(name = "{0} store, {1} partition(s)")
  @CsvSource({"projected, 1", "projected, 3", "full, 3"})
  void run_localSpark_equalsOneMachineFactors(String kind, int partitions) throws Exception {
    Path store = store(kind);
    Path factors = dir.resolve("factors-" + kind + "-" + partitions);
    FitEkfacJob.Result r = fit(store, factors, partitions);
    assertEquals(List.of("step-3", "step-6"), r.written());

    List<int[]> corpus = tiny.texts().stream().map(tiny.tokenizer()::encode).toList();
    for (RunCheckpoint c : tiny.run().checkpoints()) {
      String name = ExtractJob.checkpointName(c);
      StoreMetadata meta = GradientStore.metadata(spark, store, name);
      Map<String, LayerFactors> expected = OneMachineEkfac.fit(c, corpus, meta, stored(store, name, meta));
      Map<String, LayerFactors> got = FactorStore.read(factors, meta);
      assertEquals(expected.keySet(), got.keySet());
      for (String layer : expected.keySet()) {
        LayerFactors e = expected.get(layer);
        LayerFactors g = got.get(layer);
        String where = name + " " + layer + " (" + kind + ", " + partitions + " partitions)";
        assertEquals(e.tokens(), g.tokens(), where);
        assertEquals(e.examples(), g.examples(), where);
        assertEquals(e.correctionExamples(), g.correctionExamples(), where);
        assertEquals(tiny.ids().size(), g.correctionExamples(), where);
        assertEquals(e.tokensPerExample(), g.tokensPerExample(), 1e-12, where);
        assertClose(e.eigA(), g.eigA(), where + " eigenvalues of A");
        assertClose(e.eigS(), g.eigS(), where + " eigenvalues of S");
        Random random = new Random(layer.hashCode());
        for (int trial = 0; trial < 3; trial++) {
          double[] v = new double[g.dOut() * g.dIn()];
          for (int i = 0; i < v.length; i++) {
            v[i] = random.nextGaussian();
          }
          INDArray x = Nd4j.create(v, new long[] {g.dOut(), g.dIn()}, 'c');
          assertClose(precondition(e, x, true), precondition(g, x, true), where + " EK-FAC preconditioned");
          assertClose(precondition(e, x, false), precondition(g, x, false), where + " K-FAC preconditioned");
        }
      }
    }
  }

  /**
   * A store of Adam-preconditioned gradients (rows {@code P_out (G ⊙ S) P_inᵀ}, {@code S = 1 / (√v̂ + ε)}): the
   * eigenbasis comes from token factors scaled by the rank-one fit of {@code S} and the eigenvalue correction from the
   * stored, scaled gradients, so the factors equal the one-machine fit given those scalings and the one-machine
   * extractor's Adam-scaled gradients (not read from the store), and differ from the raw store's. The true Fisher,
   * whose correction recomputes gradients from token factors, is refused.
   */
  @Test
  void run_adamStore_fitsTheScaledFactorsBasisAndTheScaledGradients_trueFisherRefused() throws Exception {
    Path store = dir.resolve("store-adam").resolve("gradients");
    ExtractJob.run(spark, new ExtractSpec(Corpus.read(spark, tiny.corpus()), tiny.run(), store,
        new Projection(6, 5, 42), null, 8, BadRows.FAIL, LongText.WINDOWS)
        .withPreconditioning(io.influence.spark.store.OptimizerPreconditioning.ADAM));
    Path factors = dir.resolve("factors-adam");
    FitEkfacJob.Result r = FitEkfacJob.run(spark, new FitEkfacSpec(Corpus.read(spark, tiny.corpus()).repartition(2),
        tiny.run(), List.of("step-6"), store, factors, 8, 2, BadRows.FAIL, LongText.WINDOWS));
    assertEquals(List.of("step-6"), r.written());
    List<int[]> corpus = tiny.texts().stream().map(tiny.tokenizer()::encode).toList();
    RunCheckpoint c = tiny.run().checkpoints().get(1);
    StoreMetadata meta = GradientStore.metadata(spark, store, "step-6");
    io.influence.core.model.Gpt2Model model = io.influence.core.model.Gpt2Model.load(c.dir(), DataType.FLOAT);
    List<String> layers = meta.layerNames();
    Map<String, Map<String, INDArray>> scaled = new HashMap<>();
    for (var e : new io.influence.core.grad.GradientExtractor(model, model.projections(layers, 6, 5, 42), 5,
        io.influence.core.grad.AdamScaling.of(model, layers, io.influence.checkpoints.OptimizerState.read(c.dir())))
        .extract(tiny.ids(), corpus, null)) {
      scaled.put(e.id(), e.layers());
    }
    io.influence.core.grad.AdamScaling adam = io.influence.core.grad.AdamScaling.of(model, layers,
        io.influence.checkpoints.OptimizerState.read(c.dir()));
    Map<String, io.influence.core.grad.RankOneScaling> rankOne = new HashMap<>();
    layers.forEach(l -> rankOne.put(l, io.influence.core.grad.RankOneScaling.fit(adam.factors(l))));
    Map<String, LayerFactors> expected = OneMachineEkfac.fit(c, corpus, meta, scaled, rankOne);
    Path rawStore = store("projected");
    Map<String, LayerFactors> raw = OneMachineEkfac.fit(c, corpus, meta, stored(rawStore, "step-6",
        GradientStore.metadata(spark, rawStore, "step-6")));
    Map<String, LayerFactors> got = FactorStore.read(factors, meta);
    double differsFromRaw = 0;
    for (String layer : expected.keySet()) {
      LayerFactors e = expected.get(layer);
      LayerFactors g = got.get(layer);
      assertClose(e.eigA(), g.eigA(), layer + " eigenvalues of A (scaled token factors)");
      assertClose(e.eigS(), g.eigS(), layer + " eigenvalues of S (scaled token factors)");
      INDArray x = randomGradient(g, layer);
      double[] fitted = precondition(g, x, true);
      assertClose(precondition(e, x, true), fitted, layer + " EK-FAC preconditioned (Adam store)");
      differsFromRaw = Math.max(differsFromRaw, relativeDifference(precondition(raw.get(layer), x, true), fitted));
    }
    assertTrue(differsFromRaw > 1e-2, "the scaled gradients must give another correction, relative difference "
        + differsFromRaw);
    var e = assertThrows(IllegalArgumentException.class, () -> FitEkfacJob.run(spark, new FitEkfacSpec(
        Corpus.read(spark, tiny.corpus()), tiny.run(), List.of("step-6"), Locations.local(store),
        Locations.local(dir.resolve("factors-adam-true")), 8, 0, BadRows.FAIL, LongText.WINDOWS, Fisher.TRUE, 0)));
    assertTrue(e.getMessage().contains("ekfac.fisher = empirical"), e.getMessage());
  }

  @Test
  void run_trueFisher_equalsOneMachineFactorsWithTheSameSampledLabels_andIsRecordedAndRefitted() throws Exception {
    Path store = store("projected");
    Path factors = dir.resolve("factors-true-fisher");
    FitEkfacJob.Result r = FitEkfacJob.run(spark, new FitEkfacSpec(Corpus.read(spark, tiny.corpus()).repartition(2),
        tiny.run(), List.of("step-6"), Locations.local(store), Locations.local(factors), 4, 2, BadRows.FAIL,
        LongText.WINDOWS, Fisher.TRUE, 3));
    assertEquals(List.of("step-6"), r.written());
    assertEquals("true (seed 3)", FactorStore.marker(Locations.local(factors), "step-6").fisher());
    List<int[]> corpus = tiny.texts().stream().map(tiny.tokenizer()::encode).toList();
    RunCheckpoint c = tiny.run().checkpoints().get(1);
    StoreMetadata meta = GradientStore.metadata(spark, store, "step-6");
    Map<String, LayerFactors> expected = OneMachineEkfac.fitSampled(c, tiny.ids(), corpus, meta,
        io.influence.core.model.GradientRequest.Labels.sampled(3));
    Map<String, LayerFactors> empirical = OneMachineEkfac.fit(c, corpus, meta, stored(store, "step-6", meta));
    Map<String, LayerFactors> got = FactorStore.read(factors, meta);
    double differsFromEmpirical = 0;
    for (String layer : expected.keySet()) {
      LayerFactors e = expected.get(layer);
      LayerFactors g = got.get(layer);
      assertClose(e.eigS(), g.eigS(), layer + " eigenvalues of S (true Fisher)");
      INDArray x = randomGradient(g, layer);
      double[] fitted = precondition(g, x, true);
      assertClose(precondition(e, x, true), fitted, layer + " EK-FAC preconditioned (true Fisher)");
      double[] emp = precondition(empirical.get(layer), x, true);
      differsFromEmpirical = Math.max(differsFromEmpirical, relativeDifference(emp, fitted));
    }
    assertTrue(differsFromEmpirical > 1e-2, "sampled labels must give another curvature than observed ones, "
        + "relative difference " + differsFromEmpirical);
    // asking for the empirical Fisher now fits again (the factors record which curvature they hold)
    FitEkfacJob.Result again = FitEkfacJob.run(spark, new FitEkfacSpec(Corpus.read(spark, tiny.corpus()),
        tiny.run(), List.of("step-6"), store, factors, 4, 0, BadRows.FAIL, LongText.WINDOWS));
    assertEquals(List.of("step-6"), again.written());
    assertEquals("empirical", FactorStore.marker(Locations.local(factors), "step-6").fisher());
  }

  @Test
  void run_trueFisherWithTwoSamples_averagesBothDraws_andSaysSoInTheMarker() throws Exception {
    Path store = store("projected");
    Path factors = dir.resolve("factors-true-fisher-x2");
    FitEkfacJob.run(spark, new FitEkfacSpec(Corpus.read(spark, tiny.corpus()).repartition(2), tiny.run(),
        List.of("step-6"), Locations.local(store), Locations.local(factors), 4, 2, BadRows.FAIL, LongText.WINDOWS,
        Fisher.TRUE, 3, 2));
    assertEquals("true (seed 3, 2 samples per position)",
        FactorStore.marker(Locations.local(factors), "step-6").fisher());
    List<int[]> corpus = tiny.texts().stream().map(tiny.tokenizer()::encode).toList();
    RunCheckpoint c = tiny.run().checkpoints().get(1);
    StoreMetadata meta = GradientStore.metadata(spark, store, "step-6");
    var draws = List.of(io.influence.core.model.GradientRequest.Labels.sampled(3),
        io.influence.core.model.GradientRequest.Labels.sampled(4));
    Map<String, LayerFactors> expected = OneMachineEkfac.fitSampled(c, tiny.ids(), corpus, meta, draws);
    Map<String, LayerFactors> oneDraw = OneMachineEkfac.fitSampled(c, tiny.ids(), corpus, meta, draws.subList(0, 1));
    Map<String, LayerFactors> got = FactorStore.read(factors, meta);
    double differsFromOneDraw = 0;
    for (String layer : expected.keySet()) {
      LayerFactors g = got.get(layer);
      assertClose(expected.get(layer).eigS(), g.eigS(), layer + " eigenvalues of S (two draws)");
      INDArray x = randomGradient(g, layer);
      double[] fitted = precondition(g, x, true);
      assertClose(precondition(expected.get(layer), x, true), fitted, layer + " EK-FAC preconditioned (two draws)");
      double[] one = precondition(oneDraw.get(layer), x, true);
      differsFromOneDraw = Math.max(differsFromOneDraw, relativeDifference(one, fitted));
    }
    assertTrue(differsFromOneDraw > 1e-3, "the second draw must change the fit, relative difference "
        + differsFromOneDraw);
  }

  @Test
  void run_again_isNoOp_andCrashedFitIsRedone() throws Exception {
    Path store = store("projected");
    Path factors = dir.resolve("rerun").resolve("factors");
    assertEquals(List.of("step-3", "step-6"), fit(store, factors, 2).written());
    Path marker3 = FactorStore.folder(factors, "step-3").resolve(FactorStore.MARKER);
    Path marker6 = FactorStore.folder(factors, "step-6").resolve(FactorStore.MARKER);
    String fit3 = Files.readString(marker3);
    String fit6 = Files.readString(marker6);
    StoreMetadata meta6 = GradientStore.metadata(spark, store, "step-6");
    Map<String, LayerFactors> before = FactorStore.read(factors, meta6);

    FitEkfacJob.Result again = fit(store, factors, 2);
    assertEquals(List.of(), again.written());
    assertEquals(List.of("step-3", "step-6"), again.skipped());
    assertEquals(fit3, Files.readString(marker3));
    assertEquals(fit6, Files.readString(marker6));

    // a crash: a temporary folder left behind, one checkpoint folder gone
    Files.createDirectories(factors.resolve(FactorStore.TMP_PREFIX + "crashed"));
    Files.writeString(factors.resolve(FactorStore.TMP_PREFIX + "crashed").resolve("x.safetensors"), "partial");
    try (var walk = Files.walk(FactorStore.folder(factors, "step-6"))) {
      for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
    FitEkfacJob.Result redo = fit(store, factors, 2);
    assertEquals(List.of("step-6"), redo.written());
    assertEquals(List.of("step-3"), redo.skipped());
    assertEquals(fit3, Files.readString(marker3));
    assertFalse(Files.exists(factors.resolve(FactorStore.TMP_PREFIX + "crashed")));
    assertTrue(FactorStore.isComplete(factors, "step-6"));
    Map<String, LayerFactors> after = FactorStore.read(factors, meta6);
    for (String layer : before.keySet()) {
      INDArray x = Nd4j.rand(DataType.DOUBLE, before.get(layer).dOut(), before.get(layer).dIn());
      assertClose(precondition(before.get(layer), x, true), precondition(after.get(layer), x, true), layer);
    }
  }

  @Test
  void run_badCheckpointsOrFactors_failNamingThemWithHint() throws Exception {
    Path projected = store("projected");
    Path full = store("full");
    Path factors = dir.resolve("errors").resolve("factors");
    StoreMetadata fullMeta = GradientStore.metadata(spark, full, "step-3");

    var notInRun = assertThrows(IllegalArgumentException.class, () -> FitEkfacJob.run(spark, new FitEkfacSpec(
        Corpus.read(spark, tiny.corpus()), tiny.run(), List.of("step-9"), projected, factors, 8, 0,
        BadRows.FAIL, LongText.WINDOWS)));
    assertTrue(notInRun.getMessage().contains("step-9") && notInRun.getMessage().contains("HINT"), notInRun.getMessage());
    var notExtracted = assertThrows(IllegalStateException.class, () -> FitEkfacJob.run(spark, new FitEkfacSpec(
        Corpus.read(spark, tiny.corpus()), tiny.run(), List.of("step-3"), dir.resolve("no-store"), factors, 8, 0,
        BadRows.FAIL, LongText.WINDOWS)));
    assertTrue(notExtracted.getMessage().contains("influence extract"), notExtracted.getMessage());
    var notFitted = assertThrows(IllegalStateException.class, () -> FactorStore.read(factors, fullMeta));
    assertTrue(notFitted.getMessage().contains("fit-ekfac"), notFitted.getMessage());

    fit(projected, factors, 1);
    var otherSpace = assertThrows(IllegalStateException.class, () -> FactorStore.read(factors, fullMeta));
    assertTrue(otherSpace.getMessage().contains("full") && otherSpace.getMessage().contains("HINT"),
        otherSpace.getMessage());
    var refit = assertThrows(IllegalStateException.class, () -> fit(full, factors, 1));
    assertTrue(refit.getMessage().contains("--overwrite"), refit.getMessage());
  }

  /** A seeded standard Gaussian {@code [dOut, dIn]} matrix for {@code f}'s layer. */
  private static INDArray randomGradient(LayerFactors f, String layer) {
    Random random = new Random(layer.hashCode());
    double[] v = new double[f.dOut() * f.dIn()];
    for (int i = 0; i < v.length; i++) {
      v[i] = random.nextGaussian();
    }
    return Nd4j.create(v, new long[] {f.dOut(), f.dIn()}, 'c');
  }

  private static double[] precondition(LayerFactors f, INDArray x, boolean corrected) {
    var p = corrected ? KroneckerPreconditioners.ekfac(Map.of(f.layer(), f), Damping.DEFAULT)
        : KroneckerPreconditioners.kfac(Map.of(f.layer(), f), Damping.DEFAULT);
    return p.apply(Map.of(f.layer(), x)).get(f.layer()).dup('c').data().asDouble();
  }

  /** ‖a − b‖ / ‖a‖. */
  private static double relativeDifference(double[] a, double[] b) {
    double num = 0;
    double den = 0;
    for (int i = 0; i < a.length; i++) {
      num += (a[i] - b[i]) * (a[i] - b[i]);
      den += a[i] * a[i];
    }
    return Math.sqrt(num / den);
  }

  static void assertClose(double[] expected, double[] got, String what) {
    assertEquals(expected.length, got.length, what);
    double scale = 0;
    double worst = 0;
    for (int i = 0; i < expected.length; i++) {
      scale = Math.max(scale, Math.abs(expected[i]));
      worst = Math.max(worst, Math.abs(expected[i] - got[i]));
    }
    assertTrue(worst <= TOLERANCE * scale, what + ": worst difference " + worst + " vs largest entry " + scale);
  }
}
