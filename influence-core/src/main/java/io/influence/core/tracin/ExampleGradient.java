package io.influence.core.tracin;

import java.util.Map;
import java.util.Objects;
import org.nd4j.linalg.api.ndarray.INDArray;

/** One example's per-layer gradient ({@code [dOut, dIn]} or projected {@code [kOut, kIn]} matrices) at one checkpoint. */
public record ExampleGradient(String id, Map<String, INDArray> layers) {

  public ExampleGradient {
    Objects.requireNonNull(id, "id");
    layers = Map.copyOf(Objects.requireNonNull(layers, "layers"));
  }
}
