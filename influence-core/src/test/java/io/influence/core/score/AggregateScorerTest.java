package io.influence.core.score;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The flagging kernel against a float64 loop: normalised scores, their mean and max, for any block size. */
class AggregateScorerTest {

  /** Float64 GEMM vs float64 loop over the same float32 inputs: rounding only. */
  private static final double REL_TOL = 1e-12;

  @Test
  void aggregates_anyBlockSize_equalBruteForce() {
    SplittableRandom r = new SplittableRandom(5);
    int dim = 7;
    double[] weights = {0.5, 2.0};
    int width = dim * weights.length;
    String[] examples = {"ex-0", "ex-1", "ex-2"};
    float[] q = new float[examples.length * width];
    for (int j = 0; j < q.length; j++) {
      q[j] = (float) (r.nextDouble() * 2 - 1) * (j < width ? 100 : 1);   // ex-0's gradient is 100x larger
    }
    int nt = 23;
    float[][] t = new float[nt][width];
    for (float[] row : t) {
      for (int j = 0; j < width; j++) {
        row[j] = (float) (r.nextDouble() * 2 - 1);
      }
    }
    double[] unit = AggregateScorer.unitRows(examples, q, dim, weights);
    for (int blockRows : new int[] {1, 4, 23, 50}) {
      List<AggregateScorer.Aggregate> got = new ArrayList<>();
      AggregateScorer s = new AggregateScorer(examples, unit, width, blockRows, got::add);
      for (int i = 0; i < nt; i++) {
        System.arraycopy(t[i], 0, s.buffer(), s.beginRow("t" + i), width);
      }
      s.finish();
      assertEquals(nt, got.size());
      for (int i = 0; i < nt; i++) {
        double sum = 0;
        double max = Double.NEGATIVE_INFINITY;
        int arg = -1;
        for (int e = 0; e < examples.length; e++) {
          double dot = 0;
          double sq = 0;
          for (int j = 0; j < width; j++) {
            double qj = weights[j / dim] * q[e * width + j];
            dot += qj * t[i][j];
            sq += qj * qj;
          }
          double norm = dot / Math.sqrt(sq);
          sum += norm;
          if (norm > max) {
            max = norm;
            arg = e;
          }
        }
        AggregateScorer.Aggregate a = got.get(i);
        assertEquals("t" + i, a.id());
        assertEquals(sum / examples.length, a.mean(), REL_TOL * Math.abs(sum) + 1e-15, "mean of t" + i);
        assertEquals(max, a.max(), REL_TOL * Math.abs(max) + 1e-15, "max of t" + i);
        assertEquals(arg, a.strongest(), "strongest of t" + i);
      }
    }
  }

  @Test
  void unitRows_zeroExample_isRefusedNamingIt() {
    var e = assertThrows(IllegalArgumentException.class,
        () -> AggregateScorer.unitRows(new String[] {"a", "b"}, new float[] {1, 0, 0, 0}, 2, new double[] {1}));
    assertTrue(e.getMessage().contains("'b'"), e.getMessage());
  }

  @Test
  void scorer_nonFiniteRow_namesIt() {
    AggregateScorer s = new AggregateScorer(new String[] {"a"}, new double[] {1, 0}, 2, 4, x -> { });
    float[] b = s.buffer();
    b[s.beginRow("bad")] = Float.NaN;
    var e = assertThrows(IllegalArgumentException.class, s::finish);
    assertTrue(e.getMessage().contains("'bad'"), e.getMessage());
  }
}
