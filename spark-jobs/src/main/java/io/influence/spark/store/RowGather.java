package io.influence.spark.store;

import java.io.Serializable;
import java.util.List;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.UnsafeArrayData;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.unsafe.Platform;

/*
 * Copies the gradient arrays of one wide row (see GradientTable) into a float[] at a given
 * offset, without boxing: Spark's Row API hands out arrays as boxed Float sequences, which costs
 * more than the GEMM that consumes them, so executors read Catalyst's InternalRow (from
 * Dataset.queryExecution().toRdd()) and copy each UnsafeArrayData's element region with one
 * Platform.copyMemory (other ArrayData implementations go through toFloatArray()).
 *
 * Checks per row and column: the array is present and has rows·cols elements; errors name the
 * example id, checkpoint and layer. Finiteness is not checked here (the store checked it when
 * writing; scores are checked for NaN/Inf where they are used).
 */
public final class RowGather implements Serializable {

  private static final long serialVersionUID = 1L;

  private final int idOrdinal;
  private final int[] ordinals;
  private final int[] sizes;
  private final int[] offsets;
  private final String[] checkpointNames;
  private final String[] layerNames;
  private final int width;

  private RowGather(int idOrdinal, int[] ordinals, int[] sizes, int[] offsets, String[] checkpointNames,
      String[] layerNames, int width) {
    this.idOrdinal = idOrdinal;
    this.ordinals = ordinals;
    this.sizes = sizes;
    this.offsets = offsets;
    this.checkpointNames = checkpointNames;
    this.layerNames = layerNames;
    this.width = width;
  }

  static RowGather of(GradientTable table) {
    List<String> names = List.of(table.rows().schema().fieldNames());
    int idOrdinal = names.indexOf("id");
    List<StoreMetadata> metas = table.checkpoints();
    int layers = metas.get(0).layers().size();
    int n = metas.size() * layers;
    int[] ordinals = new int[n];
    int[] sizes = new int[n];
    int[] offsets = new int[n];
    String[] ckpt = new String[n];
    String[] layer = new String[n];
    int off = 0;
    for (int i = 0; i < metas.size(); i++) {
      for (int l = 0; l < layers; l++) {
        StoreMetadata.Layer ly = metas.get(i).layers().get(l);
        int j = i * layers + l;
        ordinals[j] = names.indexOf(GradientTable.column(i, ly));
        if (ordinals[j] < 0) {
          throw new IllegalStateException("gradient table has no column " + GradientTable.column(i, ly) + "; columns: "
              + names);
        }
        sizes[j] = ly.size();
        offsets[j] = off;
        ckpt[j] = metas.get(i).checkpoint();
        layer[j] = ly.name();
        off += ly.size();
      }
    }
    return new RowGather(idOrdinal, ordinals, sizes, offsets, ckpt, layer, off);
  }

  /** Floats per wide row. */
  public int width() {
    return width;
  }

  public String id(InternalRow row) {
    return row.getUTF8String(idOrdinal).toString();
  }

  /** Copies the wide row into {@code dst[start, start + width)}. */
  public void copy(InternalRow row, String id, float[] dst, int start) {
    for (int j = 0; j < ordinals.length; j++) {
      if (row.isNullAt(ordinals[j])) {
        throw new IllegalArgumentException(where(id, j) + "no gradient (null). HINT: re-extract this checkpoint.");
      }
      ArrayData a = row.getArray(ordinals[j]);
      int n = a.numElements();
      if (n != sizes[j]) {
        throw new IllegalArgumentException(where(id, j) + "array has " + n + " values but the store metadata needs "
            + sizes[j] + ". HINT: the folder was modified after writing; re-extract this checkpoint.");
      }
      if (a instanceof UnsafeArrayData u) {
        Platform.copyMemory(u.getBaseObject(), u.getBaseOffset() + UnsafeArrayData.calculateHeaderPortionInBytes(n),
            dst, Platform.FLOAT_ARRAY_OFFSET + 4L * (start + offsets[j]), 4L * n);
      } else {
        System.arraycopy(a.toFloatArray(), 0, dst, start + offsets[j], n);
      }
    }
  }

  private String where(String id, int j) {
    return "checkpoint '" + checkpointNames[j] + "', layer '" + layerNames[j] + "', example '" + id + "': ";
  }
}
