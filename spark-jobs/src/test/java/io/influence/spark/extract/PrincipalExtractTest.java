package io.influence.spark.extract;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.grad.GradientExtractor;
import io.influence.core.grad.TokenFactors;
import io.influence.core.model.GradientRequest;
import io.influence.core.model.Gpt2Model;
import io.influence.core.model.KroneckerProjection;
import io.influence.core.model.TokenBatch;
import io.influence.core.tracin.ExampleGradient;
import io.influence.spark.config.BadRows;
import io.influence.spark.config.ExtractSettings.Projection;
import io.influence.spark.config.LongText;
import io.influence.spark.io.Corpus;
import io.influence.ekfac.PrincipalSubspace;
import io.influence.spark.ekfac.PrincipalBasisFit;
import io.influence.spark.store.GradientStore;
import io.influence.spark.store.ProjectionBasis;
import io.influence.spark.store.StoreMetadata;
import io.influence.spark.store.StoreProjections;
import io.influence.spark.store.StoredRow;
import io.influence.spark.testing.LocalSpark;
import io.influence.spark.testing.TinyRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.eigen.Eigen;
import org.nd4j.linalg.factory.Nd4j;

/**
 * extract.projection.basis = principal on {@code local[2]}: each checkpoint's matrices are what the subspace
 * iteration computes on one machine over every sequence and keep the energy of the top eigenvectors of the layer
 * covariances summed by plain loops over the token factors, the stored rows are those
 * matrices applied to the one-machine per-example gradients, a re-run reuses both, and a changed matrices file is
 * refused by name.
 */
class PrincipalExtractTest {

  private static final int K_IN = 4;
  private static final int K_OUT = 6;

  @TempDir static Path dir;
  private static TinyRun tiny;

  private final SparkSession spark = LocalSpark.get();

  @BeforeAll
  static void trainTinyModel() throws Exception {
    tiny = TinyRun.create(dir);
  }

  private Dataset<Row> corpus(int partitions) {
    return Corpus.read(spark, tiny.corpus()).repartition(partitions);
  }

  @Test
  void principalStore_holdsTopEigenvectorsAndRowsProjectedByThem_andIsReusedOrRefusedWhenChanged() throws Exception {
    Path store = dir.resolve("store-principal");
    ExtractSpec spec = new ExtractSpec(corpus(3), tiny.run(), store,
        new Projection(K_IN, K_OUT, 17, ProjectionBasis.PRINCIPAL, 1000), null, 4, BadRows.FAIL, LongText.WINDOWS);
    assertEquals(2, ExtractJob.run(spark, spec).written().size());
    Map<String, String> hashes = new HashMap<>();
    for (RunCheckpoint c : tiny.run().checkpoints()) {
      String name = ExtractJob.checkpointName(c);
      StoreMetadata meta = GradientStore.metadata(spark, store, name);
      assertNotNull(meta.projectionSha256(), "a principal store records its matrices' hash");
      assertEquals(null, meta.projectionSeed());
      assertTrue(meta.projectionDescription().startsWith("kronecker-principal 6x4"), meta.projectionDescription());
      hashes.put(name, meta.projectionSha256());
      String json = Files.readString(store.resolve(GradientStore.folder(io.influence.spark.io.Locations.local(store),
          name).getName()).resolve("_store.json"));
      assertTrue(json.contains(meta.projectionSha256()) && !json.contains("projectionFile"), json);
      Gpt2Model model = Gpt2Model.load(c.dir(), DataType.DOUBLE);
      Map<String, KroneckerProjection> p = StoreProjections.of(meta, model::linearShape, DataType.DOUBLE);
      Map<String, double[][]> cov = covariances(model);
      Map<String, KroneckerProjection> oneMachine = subspaceIteration(model);
      for (String layer : model.linearLayers()) {
        // the Spark passes compute what the numerical core computes on one machine from the same start
        assertClose(oneMachine.get(layer).pIn(), p.get(layer).pIn(), layer + " P_in at " + name);
        assertClose(oneMachine.get(layer).pOut(), p.get(layer).pOut(), layer + " P_out at " + name);
        // and that keeps the energy of the exact top eigenvectors of covariances summed by plain loops
        assertKeepsTopEnergy(cov.get(layer + "/a"), p.get(layer).pIn(), layer + " P_in at " + name);
        assertKeepsTopEnergy(cov.get(layer + "/g"), p.get(layer).pOut(), layer + " P_out at " + name);
      }
      assertRowsAreProjected(store, name, c, StoreProjections.of(meta, model::linearShape, DataType.FLOAT));
    }

    var again = ExtractJob.run(spark, spec);
    assertTrue(again.written().isEmpty(), "a finished principal store is reused");
    for (RunCheckpoint c : tiny.run().checkpoints()) {
      String name = ExtractJob.checkpointName(c);
      assertEquals(hashes.get(name), GradientStore.metadata(spark, store, name).projectionSha256());
    }

    // a copy of the store whose matrices file was changed: refused, naming the file
    Path copy = dir.resolve("store-copy");
    copyTree(store, copy);
    RunCheckpoint lastCheckpoint = tiny.run().checkpoints().get(tiny.run().checkpoints().size() - 1);
    String last = ExtractJob.checkpointName(lastCheckpoint);
    StoreMetadata meta = GradientStore.metadata(spark, copy, last);
    Path file = Path.of(new java.net.URI(meta.projectionFile()));
    byte[] bytes = Files.readAllBytes(file);
    bytes[bytes.length - 1] ^= 1;
    Files.write(file, bytes);
    Gpt2Model model = Gpt2Model.load(lastCheckpoint.dir(), DataType.FLOAT);
    var e = assertThrows(IllegalStateException.class, () -> StoreProjections.of(meta, model::linearShape,
        DataType.FLOAT));
    assertTrue(e.getMessage().contains(file.getFileName().toString()) && e.getMessage().contains("HINT"),
        e.getMessage());
  }

  @Test
  void principalBasis_tooLargeForTheHeap_isRefusedBeforeAnyPass() throws Exception {
    ExtractSpec spec = new ExtractSpec(corpus(1), tiny.run(), dir.resolve("store-too-large"),
        new Projection(K_IN, K_OUT, 17, ProjectionBasis.PRINCIPAL, 1000), null, 4, BadRows.FAIL, LongText.WINDOWS);
    RunCheckpoint first = tiny.run().checkpoints().get(0);
    ExtractJob.requireBasisFitsInMemory(spec, first, 2, 1L << 30);   // the tiny model's covariances fit in 1 GiB
    var e = assertThrows(IllegalArgumentException.class, () -> ExtractJob.requireBasisFitsInMemory(spec, first, 2,
        100_000));
    assertTrue(e.getMessage().contains("extract.projection.basis") && e.getMessage().contains("HINT"), e.getMessage());
  }

  /** A = Σ a aᵀ / tokens and S = Σ g gᵀ / tokens per layer, by plain loops over every sequence's token factors. */
  private static Map<String, double[][]> covariances(Gpt2Model model) {
    Map<String, double[][]> sums = new HashMap<>();
    long tokens = 0;
    for (String text : tiny.texts()) {
      var g = model.gradients(TokenBatch.of(new int[][] {tiny.tokenizer().encode(text)}),
          GradientRequest.perExampleTokenFactors().withTrackedLayers(model.linearLayers()));
      for (TokenFactors f : g.tokenFactors().get(0).values()) {
        add(sums, f.layer() + "/a", f.a());
        add(sums, f.layer() + "/g", f.g());
      }
      tokens += g.tokenFactors().get(0).values().iterator().next().tokens();
    }
    for (double[][] m : sums.values()) {
      for (double[] row : m) {
        for (int j = 0; j < row.length; j++) {
          row[j] /= tokens;
        }
      }
    }
    return sums;
  }

  private static void add(Map<String, double[][]> sums, String key, INDArray x) {
    int d = (int) x.columns();
    double[][] m = sums.computeIfAbsent(key, k -> new double[d][d]);
    for (int t = 0; t < x.rows(); t++) {
      for (int i = 0; i < d; i++) {
        for (int j = 0; j < d; j++) {
          m[i][j] += x.getDouble(t, i) * x.getDouble(t, j);
        }
      }
    }
  }

  /** PrincipalBasisFit's passes on one machine: every sequence's token factors, from the same seeded start. */
  private static Map<String, KroneckerProjection> subspaceIteration(Gpt2Model model) {
    PrincipalSubspace s = PrincipalBasisFit.start(PrincipalBasisFit.dims(model, model.linearLayers()), K_IN, K_OUT);
    int passes = PrincipalBasisFit.passes(s);
    for (int p = 1; ; p++) {
      PrincipalSubspace.Sums sums = s.sums();
      for (String text : tiny.texts()) {
        var g = model.gradients(TokenBatch.of(new int[][] {tiny.tokenizer().encode(text)}),
            GradientRequest.perExampleTokenFactors().withTrackedLayers(model.linearLayers()));
        for (TokenFactors f : g.tokenFactors().get(0).values()) {
          s.add(sums, f);
        }
      }
      if (p == passes) {
        return s.finish(sums, DataType.DOUBLE);
      }
      s = s.next(sums);
    }
  }

  private static void assertClose(INDArray want, INDArray got, String what) {
    double diff = want.castTo(DataType.DOUBLE).sub(got.castTo(DataType.DOUBLE)).amaxNumber().doubleValue();
    assertTrue(diff < 1e-4, what + " differs from the one-machine fit by " + diff);
  }

  /**
   * Rows of p are orthonormal and keep at least 99% (and, float32 rows, at most 1 + 1e-5) of the energy Σ λ_i of cov's top eigenvalues (measured: the
   * Ritz values after four passes; an arbitrary orthonormal basis keeps about k/d of the trace).
   */
  private static void assertKeepsTopEnergy(double[][] cov, INDArray p, String what) {
    int d = cov.length;
    INDArray c = Nd4j.create(cov);
    double[] eig = Eigen.symmetricGeneralizedEigenvalues(c.dup(), true).data().asDouble();
    Arrays.sort(eig);
    INDArray gram = p.mmul(p.transpose());
    assertTrue(gram.sub(Nd4j.eye(p.rows()).castTo(DataType.DOUBLE)).amaxNumber().doubleValue() < 1e-5, what
        + ": rows orthonormal");
    double top = 0;
    for (int r = 0; r < p.rows(); r++) {
      top += eig[d - 1 - r];
    }
    double kept = p.mmul(c).mul(p).sumNumber().doubleValue();
    assertTrue(kept >= 0.99 * top && kept <= top * (1 + 1e-5), what + ": keeps " + kept + " of the top " + top);
  }

  private void assertRowsAreProjected(Path store, String name, RunCheckpoint c, Map<String, KroneckerProjection> p)
      throws Exception {
    Gpt2Model model = Gpt2Model.load(c.dir(), DataType.FLOAT);
    List<ExampleGradient> want = new GradientExtractor(model, p, 5).extract(tiny.ids(),
        tiny.texts().stream().map(tiny.tokenizer()::encode).toList(), null);
    StoreMetadata meta = GradientStore.metadata(spark, store, name);
    Map<String, float[][]> got = new HashMap<>();
    for (Row r : GradientStore.read(spark, store, name).collectAsList()) {
      got.put(r.getString(0), StoredRow.layers(r, meta));
    }
    assertEquals(tiny.ids().size(), got.size());
    List<String> layers = meta.layerNames();
    for (ExampleGradient e : want) {
      for (int l = 0; l < layers.size(); l++) {
        float[] w = e.layers().get(layers.get(l)).dup('c').data().asFloat();
        float scale = 1e-6f;
        for (float x : w) {
          scale = Math.max(scale, Math.abs(x));
        }
        for (int i = 0; i < w.length; i++) {
          assertEquals(w[i], got.get(e.id())[l][i], 2e-5f * scale, e.id() + " " + layers.get(l) + "[" + i + "]");
        }
      }
    }
  }

  private static void copyTree(Path from, Path to) throws Exception {
    List<Path> all = new ArrayList<>();
    try (Stream<Path> s = Files.walk(from)) {
      s.forEach(all::add);
    }
    for (Path p : all) {
      Path t = to.resolve(from.relativize(p).toString());
      if (Files.isDirectory(p)) {
        Files.createDirectories(t);
      } else {
        Files.copy(p, t);
      }
    }
  }
}
