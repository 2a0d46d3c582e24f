package io.influence.spark.ekfac;

import io.influence.ekfac.EigenvalueCorrection;
import io.influence.ekfac.LayerFactors;
import io.influence.spark.store.RowGather;
import io.influence.spark.store.StoreMetadata;
import java.io.Serializable;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.catalyst.InternalRow;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The eigenvalue-correction pass's treeAggregate value: one {@link EigenvalueCorrection} per layer, fed one stored
 * per-example gradient (a single-checkpoint wide row, layers in store order) at a time, merged across partitions.
 */
final class Corrections implements Serializable {

  private static final long serialVersionUID = 1L;

  private final List<StoreMetadata.Layer> layers;
  private final Map<String, EigenvalueCorrection> byLayer;
  private transient float[] row;

  Corrections(List<StoreMetadata.Layer> layers, Map<String, LayerFactors> factors) {
    this.layers = List.copyOf(layers);
    this.byLayer = new LinkedHashMap<>();
    for (StoreMetadata.Layer l : layers) {
      byLayer.put(l.name(), new EigenvalueCorrection(factors.get(l.name())));
    }
  }

  Map<String, EigenvalueCorrection> byLayer() {
    return byLayer;
  }

  Corrections add(RowGather gather, InternalRow r) {
    if (row == null) {
      row = new float[gather.width()];
    }
    String id = gather.id(r);
    gather.copy(r, id, row, 0);
    int off = 0;
    for (StoreMetadata.Layer l : layers) {
      float[] part = Arrays.copyOfRange(row, off, off + l.size());
      byLayer.get(l.name()).addGradient(Nd4j.create(part, new long[] {l.rows(), l.cols()}, 'c'), 1.0, id);
      off += l.size();
    }
    return this;
  }

  /** Adds one example's gradient of {@code layer} ({@code [rows, cols]} as the store holds it) with {@code weight}. */
  Corrections add(String layer, org.nd4j.linalg.api.ndarray.INDArray gradient, double weight, String id) {
    byLayer.get(layer).addGradient(gradient, weight, id);
    return this;
  }

  Corrections merge(Corrections other) {
    for (Map.Entry<String, EigenvalueCorrection> e : byLayer.entrySet()) {
      e.getValue().merge(other.byLayer.get(e.getKey()));
    }
    return this;
  }
}
