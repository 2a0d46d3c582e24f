package io.influence.core.grad;

import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Turns a query gradient into the vector that training gradients are scored against:
 * identity for TracIn, {@code (H + λI)⁻¹ v} for influence functions (CG, LiSSA, K-FAC, EK-FAC).
 *
 * <p>Gradients are given per tracked layer, each a {@code [dOut, dIn]} matrix (full) or a
 * {@code [kOut, kIn]} matrix (Kronecker-projected); the result has the same layers and shapes.
 * The input is not modified.
 */
public interface Preconditioner {

  /** Short name written into every score row, e.g. {@code "tracin"}, {@code "ekfac"}. */
  String method();

  Map<String, INDArray> apply(Map<String, INDArray> gradient);

  /**
   * The preconditioner of each checkpoint, by name: what self-influence applies to every stored row
   * ({@code ⟨g_i, P_i g_i⟩}). Serializable, since Spark ships it to the executors (load large factors lazily
   * inside it).
   */
  @FunctionalInterface
  interface PerCheckpoint extends java.io.Serializable {
    /** {@code P_i} of checkpoint {@code checkpoint}; fails naming it when there is none. */
    Preconditioner at(String checkpoint);
  }

  /** A preconditioner from a function, named {@code method}. */
  static Preconditioner of(String method, java.util.function.UnaryOperator<Map<String, INDArray>> apply) {
    return new Preconditioner() {
      @Override
      public String method() {
        return method;
      }

      @Override
      public Map<String, INDArray> apply(Map<String, INDArray> gradient) {
        return apply.apply(gradient);
      }
    };
  }
}
