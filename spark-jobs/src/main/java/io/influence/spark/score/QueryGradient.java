package io.influence.spark.score;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One query's preconditioned gradient at each scored checkpoint ({@code perCheckpoint.get(i)} belongs to
 * the {@code i}-th checkpoint of the {@link ScoreSpec}): per layer, the {@code [rows, cols]} matrix flattened
 * row-major, in the store's gradient space (same layers, shapes and projection).
 */
public record QueryGradient(String id, List<Map<String, float[]>> perCheckpoint) implements Serializable {

  private static final long serialVersionUID = 1L;

  public QueryGradient {
    Objects.requireNonNull(id, "query id");
    List<Map<String, float[]>> copy = new ArrayList<>();
    for (Map<String, float[]> m : Objects.requireNonNull(perCheckpoint, "perCheckpoint")) {
      copy.add(Map.copyOf(m));
    }
    if (copy.isEmpty()) {
      throw new IllegalArgumentException("query '" + id + "' has no gradients");
    }
    perCheckpoint = List.copyOf(copy);
  }

  /** From per-layer matrices (any float dtype; flattened row-major as float32), one map per checkpoint. */
  public static QueryGradient ofArrays(String id, List<Map<String, INDArray>> perCheckpoint) {
    List<Map<String, float[]>> out = new ArrayList<>();
    for (Map<String, INDArray> m : perCheckpoint) {
      Map<String, float[]> f = new LinkedHashMap<>();
      for (Map.Entry<String, INDArray> e : m.entrySet()) {
        f.put(e.getKey(), e.getValue().castTo(DataType.FLOAT).dup('c').data().asFloat());
      }
      out.add(f);
    }
    return new QueryGradient(id, out);
  }
}
