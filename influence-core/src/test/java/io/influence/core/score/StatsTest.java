package io.influence.core.score;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Pearson and Spearman against values worked out by hand. */
class StatsTest {

  private static final double TOLERANCE = 1e-12;

  @Test
  void pearson_affineRelation_isPlusOrMinusOne() {
    double[] x = {1, 2, 3, 4, 5};
    assertEquals(1.0, Stats.pearson(x, new double[] {3, 5, 7, 9, 11}), TOLERANCE);
    assertEquals(-1.0, Stats.pearson(x, new double[] {-1, -2, -3, -4, -5}), TOLERANCE);
  }

  @Test
  void pearson_smallSample_matchesHandComputation() {
    // x − mean = (−1, 0, 1), y − mean = (−1, −1, 2): sxy = 3, sxx = 2, syy = 6 → 3 / sqrt(12)
    assertEquals(3 / Math.sqrt(12), Stats.pearson(new double[] {1, 2, 3}, new double[] {0, 0, 3}), TOLERANCE);
  }

  @Test
  void spearman_monotoneNonlinear_isOne() {
    assertEquals(1.0, Stats.spearman(new double[] {1, 2, 3, 4}, new double[] {1, 8, 27, 1000}), TOLERANCE);
  }

  @Test
  void ranks_ties_getAverageRank() {
    assertArrayEquals(new double[] {1, 2.5, 2.5, 4}, Stats.ranks(new double[] {0.1, 0.5, 0.5, 0.9}), TOLERANCE);
  }

  @Test
  void pearson_constantSample_throws() {
    assertThrows(IllegalArgumentException.class, () -> Stats.pearson(new double[] {1, 1}, new double[] {1, 2}));
  }
}
