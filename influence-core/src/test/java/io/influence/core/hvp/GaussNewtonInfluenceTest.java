package io.influence.core.hvp;

import org.junit.jupiter.api.Test;

/**
 * The bar for the GGN: CG (Pearson ≥ 0.9999) and LiSSA (≥ 0.99) on the operator reproduce
 * the influence scores of an exact Cholesky solve of the damped dense GGN (see {@link InfluenceBar}).
 */
class GaussNewtonInfluenceTest {

  @Test
  void gaussNewtonInfluence_cgAndLissa_matchExactDenseSolve() throws Exception {
    InfluenceBar bar = new InfluenceBar(new HvpFixture());
    bar.check("GGN", GaussNewtonOperator.create(bar.model, InfluenceBar.LAYERS, bar.data), true);
  }
}
