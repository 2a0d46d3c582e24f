package io.influence.spark.selfinf;

import java.io.Serializable;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A preconditioner applied to each training gradient on the executors, for self-influence
 * {@code ⟨g, P g⟩} (e.g. EK-FAC's {@code (H + λI)⁻¹}). Gets one example's per-layer
 * {@code [rows, cols]} float32 matrices at one checkpoint and returns matrices of the same layers and
 * shapes; it must not modify its input. Shipped to executors with Java serialisation, so it must
 * be {@link Serializable} (load large factors lazily, e.g. from a broadcast or a file, inside it).
 */
@FunctionalInterface
public interface SelfPreconditioner extends Serializable {

  Map<String, INDArray> apply(String checkpoint, Map<String, INDArray> gradient);
}
