package io.influence.core.sgdinfluence;

/**
 * A model trained by plain SGD, seen as a flat parameter vector {@code θ ∈ R^p}: what
 * {@link SgdInfluence}'s backward replay asks of it. {@code ℓ_i} is training example {@code i}'s
 * loss as the training run summed it (for a language model, the summed token loss of sequence
 * {@code i}); every quantity is taken at the parameters last set. Not thread-safe.
 */
public interface ReplayModel {

  /** {@code p}, the length of every parameter and gradient vector. */
  int dim();

  /** Moves the model to {@code θ} (length {@link #dim()}). */
  void setParameters(double[] theta);

  /** {@code ∇ℓ_i(θ)} for each {@code i} in {@code examples}, in that order. */
  double[][] exampleGradients(int[] examples);

  /** For each vector {@code v}: {@code Σ_{i ∈ examples} ∇²ℓ_i(θ) v} (repeats counted). */
  double[][] hessianSums(int[] examples, double[][] vectors);
}
