package io.influence.ekfac;

import org.nd4j.linalg.api.ndarray.INDArray;

/** Shared argument checks; every message names the layer (and example id when known) and says how to fix it. */
final class Checks {

  private Checks() {}

  static String where(String layer, String exampleId) {
    return exampleId == null ? "layer " + layer : "layer " + layer + ", example " + exampleId;
  }

  /** Rejects NaN or ±Inf anywhere in {@code x} (one O(n) reduction; an overflowing sum is rejected too). */
  static void requireFinite(INDArray x, String what, String layer, String exampleId) {
    if (x.length() == 0) {
      return;
    }
    double sum = x.sumNumber().doubleValue();
    if (!Double.isFinite(sum)) {
      throw new IllegalArgumentException(where(layer, exampleId) + ": " + what + " contains NaN or Inf (sum = " + sum
          + "). HINT: check the model's loss and activations for this example (overflow in float16/bfloat16 "
          + "checkpoints, a -inf attention mask leaking into a gradient); drop or fix the example.");
    }
  }

  static void requireWeight(double weight, String layer, String exampleId) {
    if (!(weight >= 0) || Double.isInfinite(weight)) {
      throw new IllegalArgumentException(where(layer, exampleId) + ": weight must be finite and >= 0, got " + weight
          + ". HINT: pass 1.0 for an ordinary example.");
    }
  }
}
