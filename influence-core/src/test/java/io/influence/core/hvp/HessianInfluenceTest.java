package io.influence.core.hvp;

import org.junit.jupiter.api.Test;

/**
 * The bar for the true Hessian (indefinite here, so damped above |λ_min|): CG (Pearson ≥
 * 0.9999) and LiSSA (≥ 0.99) on the operator reproduce the influence scores of an exact Cholesky
 * solve of the damped dense Hessian (see {@link InfluenceBar}).
 */
class HessianInfluenceTest {

  @Test
  void hessianInfluence_dampedAboveLambdaMin_cgAndLissaMatchExactDenseSolve() throws Exception {
    InfluenceBar bar = new InfluenceBar(new HvpFixture());
    bar.check("Hessian", HessianOperator.create(bar.model, InfluenceBar.LAYERS, bar.data), false);
  }
}
