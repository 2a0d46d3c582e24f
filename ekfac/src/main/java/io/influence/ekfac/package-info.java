/**
 * K-FAC and EK-FAC curvature for influence functions (Martens &amp; Grosse 2015; George et al.
 * 2018; Grosse et al. 2023), in Kronfluence's four stages, per tracked layer:
 *
 * <ol>
 *   <li><b>covariance</b>: {@link io.influence.ekfac.CovarianceAccumulator} (mergeable, float64)
 *       → {@link io.influence.ekfac.Covariances} ({@code A = E_t[a aᵀ]}, {@code S = E_t[g gᵀ]},
 *       token averages);</li>
 *   <li><b>eigendecomposition</b>: {@link io.influence.ekfac.LayerFactors#fromCovariances}
 *       (float64, symmetrised, eigenvalues clamped at 0);</li>
 *   <li><b>eigenvalue correction</b> ("lambda"): {@link io.influence.ekfac.EigenvalueCorrection}
 *       (mergeable, float32 rotations, float64 sums, example averages) →
 *       {@link io.influence.ekfac.LayerFactors#withCorrection};</li>
 *   <li><b>preconditioning</b>: {@link io.influence.ekfac.KroneckerPreconditioners#kfac} /
 *       {@link io.influence.ekfac.KroneckerPreconditioners#ekfac} with a
 *       {@link io.influence.ekfac.Damping}, giving an {@link io.influence.core.grad.Preconditioner}.</li>
 * </ol>
 *
 * <p>Factors are stored with {@link io.influence.ekfac.FactorFiles} (safetensors, one file per
 * layer). Everything works unchanged on Kronecker-projected factors {@code (P_in a_t, P_out g_t)}:
 * dimensions are taken from the data. Fisher/GGN expectation: the covariance and correction passes
 * should see output gradients of labels sampled from the model (or every label weighted by its
 * probability through the {@code weight} argument), not the data labels, unless the empirical
 * Fisher is wanted.
 */
package io.influence.ekfac;
