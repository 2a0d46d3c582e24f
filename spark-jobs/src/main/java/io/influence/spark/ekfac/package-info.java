/**
 * The EK-FAC stages on Spark (Grosse et al. 2023; Kronfluence's stages): {@link io.influence.spark.ekfac.FitEkfacJob}
 * fits, per checkpoint and tracked layer, the Kronecker factors in the gradient store's space (covariance pass
 * over the corpus, eigendecomposition on the driver, eigenvalue correction over the stored per-example
 * gradients) and saves them with {@link io.influence.spark.ekfac.FactorStore}; {@link io.influence.spark.ekfac.EkfacSettings}
 * says how scoring and self-influence use them (damping, which checkpoints).
 */
package io.influence.spark.ekfac;
