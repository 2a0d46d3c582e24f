package io.influence.ekfac;

/**
 * The normalised Kronecker factors of one layer after the covariance pass:
 * {@code A = E_t[a aᵀ]} ({@code dIn × dIn}) and {@code S = E_t[g gᵀ]} ({@code dOut × dOut}), both
 * averaged over tokens (weighted when examples carry weights), symmetrised, row-major.
 *
 * @param tokens         number of token rows added
 * @param examples       number of examples added
 * @param tokenWeight    Σ over examples of weight × tokens: the divisor of both sums
 * @param exampleWeight  Σ over examples of weight; {@code tokenWeight / exampleWeight} is the mean
 *                       number of tokens per example, which scales K-FAC's eigenvalues
 *                       (see {@link LayerFactors})
 */
public record Covariances(String layer, int dIn, int dOut, double[] a, double[] s,
                          long tokens, long examples, double tokenWeight, double exampleWeight) {

  public Covariances {
    if (a.length != (long) dIn * dIn || s.length != (long) dOut * dOut) {
      throw new IllegalArgumentException("layer " + layer + ": A must hold dIn² = " + (long) dIn * dIn + " and S dOut² = "
          + (long) dOut * dOut + " values, got " + a.length + " and " + s.length);
    }
  }

  public double tokensPerExample() {
    return tokenWeight / exampleWeight;
  }
}
