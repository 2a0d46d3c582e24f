package io.influence.spark.score;

import io.influence.spark.store.GradientStore;
import io.influence.spark.store.StoreMetadata;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.Path;

/** Query gradients laid out as the rows of a gradient table, checked against the store (score and flag stages). */
public final class QueryMatrix {

  private QueryMatrix() {}

  /**
   * The unweighted query matrix {@code [nQ, C·D]} row-major (checkpoint-major, each checkpoint in the order of
   * its {@link StoreMetadata#layout()}: the wide row of {@code GradientTable}); checks every query against the
   * store's layers and shapes and refuses NaN/Inf, naming the query, checkpoint and layer.
   */
  public static float[] rowMajor(Path store, List<QueryGradient> queries, List<StoreMetadata> metas) {
    int d = metas.get(0).dim();
    int c = metas.size();
    int width = c * d;
    float[] out = new float[Math.multiplyExact(queries.size(), width)];
    for (int q = 0; q < queries.size(); q++) {
      QueryGradient query = queries.get(q);
      for (int i = 0; i < c; i++) {
        StoreMetadata m = metas.get(i);
        Map<String, float[]> g = query.perCheckpoint().get(i);
        String file = new Path(GradientStore.folder(store, m.checkpoint()), GradientStore.METADATA_FILE)
            .toString();
        if (!g.keySet().equals(new java.util.HashSet<>(m.layerNames()))) {
          throw new IllegalArgumentException("query '" + query.id() + "' at checkpoint '" + m.checkpoint() + "' has layers "
              + new java.util.TreeSet<>(g.keySet()) + " but " + file + " stores " + m.layerNames()
              + ". HINT: compute query gradients for the same tracked layers as the store.");
        }
        int off = q * width + i * d;
        for (StoreMetadata.Layer l : m.layers()) {
          float[] v = g.get(l.name());
          if (v.length != l.size()) {
            throw new IllegalArgumentException("query '" + query.id() + "' at checkpoint '" + m.checkpoint() + "', layer '"
                + l.name() + "': " + v.length + " values but " + file + " stores [" + l.rows() + ", " + l.cols()
                + "] (" + m.projectionDescription() + "). HINT: project the query with the store's projection.");
          }
          for (int j = 0; j < v.length; j++) {
            if (!Float.isFinite(v[j])) {
              throw new IllegalArgumentException("query '" + query.id() + "' at checkpoint '" + m.checkpoint()
                  + "', layer '" + l.name() + "' holds " + v[j] + " at index " + j
                  + ". HINT: the query loss or its preconditioning overflowed; check damping.");
            }
          }
          System.arraycopy(v, 0, out, off, v.length);
          off += v.length;
        }
      }
    }
    return out;
  }
}
