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
}
