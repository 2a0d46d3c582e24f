/**
 * Influence functions with iterative inverse-Hessian-vector solvers on Spark (score.method "cg" or "lissa"):
 * {@link io.influence.spark.ihvp.CorpusHvp} is the curvature of the mean training loss as a block operator whose
 * products are one Spark job each (per-partition Gauss-Newton or Hessian products in float64, summed with
 * treeReduce); {@link io.influence.spark.ihvp.IhvpQueries} solves all queries' systems together with the block
 * solvers of influence-core and maps the solutions into the gradient store's space;
 * {@link io.influence.spark.ihvp.IhvpSettings} is the {@code influence.ihvp} block.
 */
package io.influence.spark.ihvp;
