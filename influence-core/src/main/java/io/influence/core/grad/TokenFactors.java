package io.influence.core.grad;

import java.util.Objects;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The per-token factors of one example's gradient for one tracked linear layer.
 *
 * <p>{@code a} is {@code [T, dIn]}: the layer input at each of the example's {@code T} tokens,
 * with a trailing column of ones when the layer has a bias. {@code g} is {@code [T, dOut]}: the
 * gradient of the example's summed loss with respect to the layer output at each token. The
 * example's gradient of the layer weight (and bias, as the last column) is
 * {@code G = gᵀ a}, shape {@code [dOut, dIn]}, i.e. {@code Σ_t g_t a_tᵀ}. Rows of padded
 * positions are not included. Both arrays have the same data type (float32 or float64).
 */
public record TokenFactors(String layer, INDArray a, INDArray g) {

  public TokenFactors {
    Objects.requireNonNull(layer, "layer");
    Objects.requireNonNull(a, "a");
    Objects.requireNonNull(g, "g");
    if (a.rank() != 2 || g.rank() != 2 || a.rows() != g.rows()) {
      throw new IllegalArgumentException("layer " + layer + ": a must be [T, dIn] and g [T, dOut] with the same T, got "
          + java.util.Arrays.toString(a.shape()) + " and " + java.util.Arrays.toString(g.shape()));
    }
    if (a.dataType() != g.dataType()) {
      throw new IllegalArgumentException("layer " + layer + ": a is " + a.dataType() + " but g is " + g.dataType());
    }
  }

  public int tokens() { return (int) a.rows(); }

  public int dIn() { return (int) a.columns(); }

  public int dOut() { return (int) g.columns(); }
}
