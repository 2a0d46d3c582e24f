package io.influence.spark.store;

/**
 * What the stored per-example gradients were divided by before the projection ({@code extract.optimizer-preconditioning};
 * a property of the stored vectors, recorded in {@link StoreMetadata}).
 *
 * <ul>
 *   <li>{@link #NONE}: the raw gradients of the loss.</li>
 *   <li>{@link #ADAM}: per parameter {@code g / (√v̂ + ε)}, Adam's second moment saved with the checkpoint
 *       ({@code optimizer.safetensors}, bias-corrected {@code v̂ = v / (1 − β2^t)}); training rows and queries alike
 *       (TrackStar, Chang et al. 2024; LESS, Xia et al. 2024). See {@link io.influence.core.grad.AdamScaling}.</li>
 * </ul>
 */
public enum OptimizerPreconditioning {
  NONE,
  ADAM
}
