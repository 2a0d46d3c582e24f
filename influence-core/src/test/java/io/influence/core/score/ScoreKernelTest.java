package io.influence.core.score;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The per-partition kernel (BlockScorer.rank / BlockScorer) against a full sort of brute-force scores. */
class ScoreKernelTest {

  /** float32 GEMM vs float64 loop over 40 products of values in [-1, 1): |error| well below 1e-4. */
  private static final double SCORE_TOL = 1e-4;

  private static final int WIDTH = 40;

  private static float[][] rows(SplittableRandom r, int n, boolean integers) {
    float[][] m = new float[n][WIDTH];
    for (float[] row : m) {
      for (int j = 0; j < WIDTH; j++) {
        row[j] = integers ? r.nextInt(-2, 3) : (float) (r.nextDouble() * 2 - 1);
      }
    }
    return m;
  }

  private static List<String> ids(String prefix, int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(prefix + ((i * 37) % 101) + "-" + i);
    }
    return out;
  }

  private static void assertSame(List<TopK.Scored> want, List<TopK.Scored> got, double tol, String what) {
    assertEquals(want.size(), got.size(), what + ": size");
    for (int i = 0; i < want.size(); i++) {
      assertEquals(want.get(i).id(), got.get(i).id(), what + ": id at " + i + " want " + want + " got " + got);
      assertEquals(want.get(i).score(), got.get(i).score(), tol, what + ": score at " + i);
    }
  }

  private static void checkAgainstBruteForce(long seed, int nq, int nt, boolean integers, int[] ks, int[] blocks) {
    SplittableRandom r = new SplittableRandom(seed);
    float[][] q = rows(r, nq, integers);
    float[][] t = rows(r, nt, integers);
    List<String> qIds = ids("q", nq);
    List<String> tIds = ids("t", nt);
    double tol = integers ? 0 : SCORE_TOL;
    for (int k : ks) {
      for (int b : blocks) {
        Ranking got = BlockScorer.rank(qIds, q, tIds, t, k, b);
        assertEquals(nt, got.rowsScored());
        for (int i = 0; i < nq; i++) {
          double[] s = new double[nt];
          for (int j = 0; j < nt; j++) {
            s[j] = BruteForce.dot(q[i], t[j]);
          }
          String what = "k=" + k + " block=" + b + " query " + qIds.get(i);
          assertSame(BruteForce.sorted(tIds, s, true, k), got.top().get(qIds.get(i)), tol, what + " top");
          assertSame(BruteForce.sorted(tIds, s, false, k), got.bottom().get(qIds.get(i)), tol, what + " bottom");
        }
      }
    }
  }

  @Test
  void rank_randomFloats_equalsFullSortForKBelowAtAboveCountAndAnyBlockSize() {
    checkAgainstBruteForce(11, 5, 57, false, new int[] {1, 6, 57, 80}, new int[] {1, 7, 57, 1024});
  }

  @Test
  void rank_integerGradientsWithManyTies_equalsFullSortExactlyTiesById() {
    // values in {-2..2} over 40 columns: many exact ties, and float32 sums are exact
    SplittableRandom r = new SplittableRandom(12);
    float[][] q = {{1, 0, 0}, {0, 0, 0}};
    float[][] t = new float[30][3];
    for (float[] row : t) {
      row[0] = r.nextInt(-2, 3);
    }
    List<String> qIds = List.of("a", "zero");
    List<String> tIds = ids("t", 30);
    for (int k : new int[] {1, 4, 30, 31}) {
      for (int b : new int[] {1, 4, 64}) {
        Ranking got = BlockScorer.rank(qIds, q, tIds, t, k, b);
        for (int i = 0; i < 2; i++) {
          double[] s = new double[30];
          for (int j = 0; j < 30; j++) {
            s[j] = BruteForce.dot(q[i], t[j]);
          }
          assertSame(BruteForce.sorted(tIds, s, true, k), got.top().get(qIds.get(i)), 0, "ties k=" + k + " b=" + b);
          assertSame(BruteForce.sorted(tIds, s, false, k), got.bottom().get(qIds.get(i)), 0, "ties k=" + k + " b=" + b);
        }
      }
    }
    checkAgainstBruteForce(13, 3, 45, true, new int[] {3, 45}, new int[] {2, 16});
  }

  @Test
  void select_randomAndTiedValues_equalsSortedArrayAtEveryIndex() {
    SplittableRandom r = new SplittableRandom(14);
    for (int n : new int[] {1, 2, 7, 64, 301}) {
      for (boolean ties : new boolean[] {false, true}) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
          v[i] = ties ? r.nextInt(0, 4) : (float) r.nextGaussian();
        }
        float[] sorted = v.clone();
        java.util.Arrays.sort(sorted);
        for (int index = 0; index < n; index++) {
          assertEquals(sorted[index], BlockScorer.select(v.clone(), n, index), "n=" + n + " index=" + index);
        }
      }
    }
  }

  @Test
  void rank_nanTrainingRow_failsNamingExample() {
    float[][] q = {{1, 1}};
    float[][] t = {{1, 2}, {Float.NaN, 0}};
    var e = assertThrows(IllegalArgumentException.class, () -> BlockScorer.rank(List.of("q"), q, List.of("ok", "bad"), t,
        1, 8));
    assertTrue(e.getMessage().contains("'bad'") && e.getMessage().contains("HINT"), e.getMessage());
  }

  @Test
  void rank_nonFiniteRowAfterTheHeapsAreFull_failsNamingExample() {
    // the rows of later blocks go through BlockScorer's row test first: a NaN or infinite score must still be refused
    SplittableRandom r = new SplittableRandom(9);
    float[][] q = rows(r, 3, false);
    for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
      float[][] t = rows(r, 60, false);
      t[45][7] = bad;
      List<String> tIds = ids("t", 60);
      var e = assertThrows(IllegalArgumentException.class, () -> BlockScorer.rank(ids("q", 3), q, tIds, t, 2, 8),
          "value " + bad);
      assertTrue(e.getMessage().contains("'" + tIds.get(45) + "'") && e.getMessage().contains("HINT"),
          e.getMessage());
    }
  }

  @Test
  void rank_rowOfWrongWidth_failsNamingIt() {
    var e = assertThrows(IllegalArgumentException.class, () -> BlockScorer.rank(List.of("q"), new float[][] {{1, 1}},
        List.of("short"), new float[][] {{1}}, 1, 8));
    assertTrue(e.getMessage().contains("short"), e.getMessage());
  }
}
