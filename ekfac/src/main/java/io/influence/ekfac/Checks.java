package io.influence.ekfac;

import io.influence.core.grad.TokenFactors;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.BooleanIndexing;
import org.nd4j.linalg.indexing.conditions.Conditions;

/** Shared argument checks; every message names the layer (and example id when known) and says how to fix it. */
final class Checks {

  private Checks() {}

  static String where(String layer, String exampleId) {
    return exampleId == null ? "layer " + layer : "layer " + layer + ", example " + exampleId;
  }

  /**
   * Rejects NaN or ±Inf anywhere in {@code x}: one O(n) sum, and only when that is not finite
   * (NaN/Inf present, or a sum that overflows) an exact element-wise check.
   */
  static void requireFinite(INDArray x, String what, String layer, String exampleId) {
    if (x.length() == 0 || Double.isFinite(x.sumNumber().doubleValue())) {
      return;
    }
    if (BooleanIndexing.or(x, Conditions.isNan()) || BooleanIndexing.or(x, Conditions.isInfinite())) {
      throw new IllegalArgumentException(where(layer, exampleId) + ": " + what + " contains NaN or Inf"
          + ". HINT: check the model's loss and activations for this example (overflow in float16/bfloat16 "
          + "checkpoints, a -inf attention mask leaking into a gradient); drop or fix the example.");
    }
  }

  /** The checks of one example's token factors on entry to a pass: a usable weight, finite {@code a} and {@code g}. */
  static void requireWeightAndFinite(TokenFactors f, double weight, String layer, String exampleId) {
    requireWeight(weight, layer, exampleId);
    requireFinite(f.a(), "a (layer input)", layer, exampleId);
    requireFinite(f.g(), "g (output gradient)", layer, exampleId);
  }

  static void requireWeight(double weight, String layer, String exampleId) {
    if (!(weight >= 0) || Double.isInfinite(weight)) {
      throw new IllegalArgumentException(where(layer, exampleId) + ": weight must be finite and >= 0, got " + weight
          + ". HINT: pass 1.0 for an ordinary example.");
    }
  }
}
