package io.influence.spark.ihvp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.hvp.GaussNewtonOperator;
import io.influence.core.hvp.HessianOperator;
import io.influence.core.hvp.TrainingSequences;
import io.influence.core.linalg.LinearOperator;
import io.influence.core.model.Gpt2Model;
import io.influence.spark.config.BadRows;
import io.influence.spark.config.LongText;
import io.influence.spark.config.Choices;
import io.influence.spark.config.IhvpSettings;
import io.influence.spark.config.Settings;
import io.influence.spark.extract.ExtractSpec;
import io.influence.spark.extract.TokenizedCorpus;
import io.influence.spark.io.Corpus;
import io.influence.spark.testing.LocalSpark;
import io.influence.spark.testing.TinyRun;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The Spark-aggregated curvature ({@link CorpusHvp} over the tokenised corpus on {@code local[2]}) against the
 * one-machine operators over the whole corpus in corpus order ({@link GaussNewtonOperator}, {@link HessianOperator},
 * float64): a block of three random vectors, 1 and 3 partitions; the seeded sample is the same whatever the
 * partitioning.
 */
class CorpusHvpTest {

  /** Relative (‖difference‖ / ‖expected‖): only the order of the float64 sums differs (measured about 1e-16). */
  private static final double GGN_TOLERANCE = 1e-10;
  /** Central differences over partitions vs the whole corpus: rounding of gradient differences amplified by 1/ε. */
  private static final double HESSIAN_TOLERANCE = 1e-7;

  private static TinyRun tiny;
  private static TokenizedCorpus corpus;
  private final SparkSession spark = LocalSpark.get();

  @BeforeAll
  static void trainTinyModel() throws Exception {
    tiny = SharedTinyRun.get();
    corpus = TokenizedCorpus.prepare(LocalSpark.get(), Corpus.read(LocalSpark.get(), tiny.corpus()),
        tiny.run().checkpoints().get(0), BadRows.FAIL, LongText.WINDOWS);
  }

  @AfterAll
  static void release() {
    corpus.release();
  }

  private static IhvpSettings settings(int partitions, long sampleRows) {
    return Settings.load(Optional.empty(), Map.of("ihvp.partitions", "" + partitions,
        "ihvp.sample-rows", "" + sampleRows, "ihvp.batch-size", "3")).ihvp();
  }

  private static double[][] randomBlock(int k, int dim, long seed) {
    Random rnd = new Random(seed);
    double[][] out = new double[k][dim];
    for (double[] v : out) {
      for (int i = 0; i < dim; i++) {
        v[i] = rnd.nextGaussian();
      }
    }
    return out;
  }

  private static double relativeDifference(double[] expected, double[] got) {
    double d = 0;
    double e = 0;
    for (int i = 0; i < expected.length; i++) {
      d += (expected[i] - got[i]) * (expected[i] - got[i]);
      e += expected[i] * expected[i];
    }
    return Math.sqrt(d / e);
  }

  @ParameterizedTest(name = "{0} curvature, {1} partition(s)")
  @CsvSource({"ggn, 1", "ggn, 3", "hessian, 3"})
  void apply_block_equalsOneMachineOperatorOverWholeCorpus(String curvature, int partitions) throws Exception {
    RunCheckpoint last = tiny.run().checkpoints().get(1);
    // a subset of layers, not in the model's order: the layout follows the list
    List<String> layers = List.of("h.1.mlp.c_fc", "h.0.attn.c_attn", "h.0.mlp.c_proj");
    IhvpQueries.HvpCorpus hc = IhvpQueries.corpus(corpus.rows(), settings(partitions, 0));
    try {
      assertEquals(partitions, hc.tokens().getNumPartitions());
      assertEquals(tiny.ids().size(), hc.rows());
      CorpusHvp op = new CorpusHvp(hc.tokens(), hc.rows(), last, layers, Choices.parse(IhvpSettings.Curvature.class, "ihvp.curvature", curvature), 3);
      Gpt2Model model = Gpt2Model.load(last.dir(), DataType.DOUBLE);
      TrainingSequences all = TrainingSequences.of(tiny.texts().stream().map(tiny.tokenizer()::encode).toList(), 8);
      LinearOperator exact = curvature.equals("ggn") ? GaussNewtonOperator.create(model, layers, all)
          : HessianOperator.create(model, layers, all);
      assertEquals(exact.dim(), op.dim());
      assertEquals(GaussNewtonOperator.create(model, layers, all).layout().toString(), op.layout().toString());
      double[][] vs = randomBlock(3, op.dim(), 17);
      double[][] outs = new double[3][op.dim()];
      op.apply(vs, outs);
      assertEquals(1, op.products(), "one Spark job for the whole block");
      assertEquals(3, op.vectors());
      for (int j = 0; j < vs.length; j++) {
        double[] expected = new double[op.dim()];
        exact.apply(vs[j], expected);
        double rel = relativeDifference(expected, outs[j]);
        System.out.printf("CorpusHvpTest %s, %d partitions, vector %d: relative difference %.2e, |Mv|/|v| %.3e%n",
            curvature, partitions, j, rel, norm(expected) / norm(vs[j]));
        assertTrue(rel <= (curvature.equals("ggn") ? GGN_TOLERANCE : HESSIAN_TOLERANCE),
            curvature + " vector " + j + ": relative difference " + rel);
      }
    } finally {
      hc.release();
    }
  }

  @Test
  void corpus_sampleRows_sameRowsWhateverThePartitioning() {
    RunCheckpoint last = tiny.run().checkpoints().get(1);
    List<String> layers = List.of("h.1.attn.c_proj");
    double[][] products = new double[3][];
    int[] parts = {1, 3, 0};
    for (int p = 0; p < 3; p++) {
      IhvpQueries.HvpCorpus hc = IhvpQueries.corpus(corpus.rows(), settings(parts[p], parts[p] == 0 ? 0 : 11));
      try {
        CorpusHvp op = new CorpusHvp(hc.tokens(), hc.rows(), last, layers, IhvpSettings.Curvature.GGN, 4);
        assertEquals(parts[p] == 0 ? tiny.ids().size() : 11, hc.rows());
        double[][] v = randomBlock(1, op.dim(), 5);
        double[][] out = new double[1][op.dim()];
        op.apply(v, out);
        products[p] = out[0];
      } finally {
        hc.release();
      }
    }
    assertTrue(relativeDifference(products[0], products[1]) <= GGN_TOLERANCE, "1 vs 3 partitions");
    assertTrue(relativeDifference(products[2], products[0]) > 1e-3, "the 11-row sample is a different curvature");
  }

  private static double norm(double[] v) {
    double s = 0;
    for (double x : v) {
      s += x * x;
    }
    return Math.sqrt(s);
  }
}
