package io.influence.spark.store;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.UnsafeArrayData;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.unsafe.Platform;

/*
 * Copies the gradients of one wide row (see GradientTable) into a float[] at a given offset,
 * without boxing: Spark's Row API hands out arrays as boxed Float sequences, which costs more than
 * the GEMM that consumes them, so executors read Catalyst's InternalRow (from
 * Dataset.queryExecution().toRdd()). One segment per stored column: a format-2 checkpoint is one
 * binary column (StoredRow: one block copy of the row's bytes, read in place), a format-1 checkpoint
 * one array<float> column per layer (each UnsafeArrayData's element region with one
 * Platform.copyMemory; other ArrayData implementations go through toFloatArray()).
 *
 * Checks per row and column: the value is present and has the metadata's length; errors name the
 * example id, checkpoint and layer. Finiteness is not checked here (the store checked it when
 * writing; scores are checked for NaN/Inf where they are used).
 */
public final class RowGather implements Serializable {

  private static final long serialVersionUID = 1L;

  private final int idOrdinal;
  private final int[] ordinals;
  private final int[] sizes;
  private final int[] offsets;
  private final boolean[] packed;
  private final String[] checkpointNames;
  private final String[] layerNames;
  private final int width;

  private RowGather(int idOrdinal, int[] ordinals, int[] sizes, int[] offsets, boolean[] packed,
      String[] checkpointNames, String[] layerNames, int width) {
    this.idOrdinal = idOrdinal;
    this.ordinals = ordinals;
    this.sizes = sizes;
    this.offsets = offsets;
    this.packed = packed;
    this.checkpointNames = checkpointNames;
    this.layerNames = layerNames;
    this.width = width;
  }

  static RowGather of(GradientTable table) {
    List<String> names = List.of(table.rows().schema().fieldNames());
    int idOrdinal = names.indexOf("id");
    List<StoreMetadata> metas = table.checkpoints();
    List<Integer> ordinals = new ArrayList<>();
    List<Integer> sizes = new ArrayList<>();
    List<Integer> offsets = new ArrayList<>();
    List<Boolean> packed = new ArrayList<>();
    List<String> ckpt = new ArrayList<>();
    List<String> layer = new ArrayList<>();
    int off = 0;
    for (int i = 0; i < metas.size(); i++) {
      StoreMetadata m = metas.get(i);
      int c = i;
      List<String> columns = m.packed() ? List.of(GradientTable.packedColumn(i))
          : m.layers().stream().map(l -> GradientTable.column(c, l)).toList();
      for (int j = 0; j < columns.size(); j++) {
        int ordinal = names.indexOf(columns.get(j));
        if (ordinal < 0) {
          throw new IllegalStateException("gradient table has no column " + columns.get(j) + "; columns: " + names);
        }
        int size = m.packed() ? m.dim() : m.layers().get(j).size();
        ordinals.add(ordinal);
        sizes.add(size);
        offsets.add(off);
        packed.add(m.packed());
        ckpt.add(m.checkpoint());
        layer.add(m.packed() ? String.join(", ", m.layerNames()) : m.layers().get(j).name());
        off += size;
      }
    }
    boolean[] p = new boolean[packed.size()];
    for (int j = 0; j < p.length; j++) {
      p[j] = packed.get(j);
    }
    return new RowGather(idOrdinal, ordinals.stream().mapToInt(Integer::intValue).toArray(),
        sizes.stream().mapToInt(Integer::intValue).toArray(), offsets.stream().mapToInt(Integer::intValue).toArray(),
        p, ckpt.toArray(new String[0]), layer.toArray(new String[0]), off);
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
      if (packed[j]) {
        int bytes = StoredRow.copyPacked(row, ordinals[j], dst, start + offsets[j], sizes[j]);
        if (bytes >= 0) {
          throw new IllegalArgumentException(where(id, j) + "gradient has " + bytes + " bytes but the store metadata"
              + " needs " + 4L * sizes[j] + " (4 per value). HINT: the folder was modified after writing; re-extract"
              + " this checkpoint.");
        }
        continue;
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
    return "checkpoint '" + checkpointNames[j] + "', layer" + (packed[j] ? "s '" : " '") + layerNames[j]
        + "', example '" + id + "': ";
  }
}
