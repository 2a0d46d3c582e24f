package io.influence.spark.store;

/** How a projected store's Kronecker matrices are chosen ({@code influence.extract.projection.basis}). */
public enum ProjectionBasis {
  /** Seeded Gaussian matrices (TRAK, LoGra's random initialisation): rebuilt anywhere from the recorded seed. */
  RANDOM,
  /**
   * The top eigenvectors of each layer's activation and output-gradient covariances at the checkpoint (LoGra's PCA
   * initialisation), fitted on the corpus before extraction and kept beside the store ({@link StoreProjections}).
   */
  PRINCIPAL
}
