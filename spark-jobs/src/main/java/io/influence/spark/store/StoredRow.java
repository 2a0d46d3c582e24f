package io.influence.spark.store;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.UnsafeRow;
import org.apache.spark.unsafe.Platform;
import org.apache.spark.unsafe.types.UTF8String;

/*
 * The one place that turns a stored row's gradient into floats and back (format 2, StoreMetadata.FORMAT_VERSION).
 *
 * Byte map of the column `gradient` (Parquet BYTE_ARRAY, Spark `binary`, never null), D = StoreMetadata.dim():
 *
 *   byte  0 ............ 4·s_1 - 1   layer 1 ([rows, cols] row-major), float32 little-endian (IEEE 754 bits)
 *   byte  4·s_1 ........ 4·(s_1+s_2) - 1   layer 2
 *   ...                                     layers in _store.json order (StoreMetadata.layout(): the same offsets)
 *   total 4·D bytes; every value finite (checked when written)
 *
 * Why one binary column for all layers: Parquet decodes an array<float> element by element (a repetition and a
 * definition level per float, then Spark's columnar-to-row copy of each element); a byte array is one length and one
 * block copy per row, and one column instead of one per layer is one length check and one copy per row, straight into
 * the scorer's block buffer (on a little-endian machine the bytes are the float[]'s memory image). No reader selects a
 * subset of layers, so per-layer columns would buy nothing. Format 1 stores (one array<float> per layer) are still
 * read, by RowGather and layers(Row, ...), so every reader adapts to both formats here and nowhere else.
 */
/**
 * Encoding and decoding of a stored row's gradient: format 2 is one {@code binary} column {@value #COLUMN} of
 * {@code 4 · dim} bytes, the layers' row-major matrices concatenated in metadata order as little-endian float32;
 * format 1 is one {@code array<float>} column per layer. Executors read through {@link RowGather} (bulk copies
 * into a block buffer); small driver-side reads of {@link GradientStore#read} rows through {@link #layers}.
 */
public final class StoredRow {

  /** The column of a packed (format 2) row. */
  public static final String COLUMN = "gradient";

  private static final boolean LITTLE_ENDIAN = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;

  private StoredRow() {}

  /** The {@code n} floats {@code src[off, off + n)} as little-endian bytes. */
  static byte[] pack(float[] src, int off, int n) {
    byte[] out = new byte[Math.multiplyExact(4, n)];
    if (LITTLE_ENDIAN) {
      Platform.copyMemory(src, Platform.FLOAT_ARRAY_OFFSET + 4L * off, out, Platform.BYTE_ARRAY_OFFSET, 4L * n);
    } else {
      ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(src, off, n);
    }
    return out;
  }

  /**
   * Copies {@code n} little-endian floats from memory ({@code base}, {@code address}: a byte[] and
   * {@code Platform.BYTE_ARRAY_OFFSET + i}, or a Spark row's memory) into {@code dst[start, start + n)}: one block
   * copy on a little-endian machine.
   */
  static void unpack(Object base, long address, float[] dst, int start, int n) {
    if (LITTLE_ENDIAN) {
      Platform.copyMemory(base, address, dst, Platform.FLOAT_ARRAY_OFFSET + 4L * start, 4L * n);
    } else {
      for (int i = 0; i < n; i++) {
        dst[start + i] = Float.intBitsToFloat(Integer.reverseBytes(Platform.getInt(base, address + 4L * i)));
      }
    }
  }

  /**
   * Copies the binary at {@code ordinal} of {@code row} into {@code dst[start, start + n)} when it holds exactly
   * {@code 4n} bytes and returns -1; otherwise copies nothing and returns its byte count. On an {@link UnsafeRow}
   * (what Spark's scans and joins hand out) the bytes are read in place, without a byte[] per row.
   */
  static int copyPacked(InternalRow row, int ordinal, float[] dst, int start, int n) {
    if (row instanceof UnsafeRow) {
      UTF8String view = row.getUTF8String(ordinal);   // a view of the row's bytes, no copy (binary and string alike)
      if (view.numBytes() != 4 * n) {
        return view.numBytes();
      }
      unpack(view.getBaseObject(), view.getBaseOffset(), dst, start, n);
    } else {
      byte[] b = row.getBinary(ordinal);
      if (b.length != 4 * n) {
        return b.length;
      }
      unpack(b, Platform.BYTE_ARRAY_OFFSET, dst, start, n);
    }
    return -1;
  }

  /**
   * The layers of a row of {@link GradientStore#read} (either format), each its {@code [rows, cols]} matrix
   * row-major, in metadata order; for small driver-side reads (reports, tests). Throws IllegalArgumentException
   * naming the example when a value is missing or has the wrong length.
   */
  public static float[][] layers(Row row, StoreMetadata meta) {
    String id = row.getString(row.fieldIndex("id"));
    List<StoreMetadata.Layer> layers = meta.layers();
    float[][] out = new float[layers.size()][];
    if (meta.packed()) {
      int i = row.fieldIndex(COLUMN);
      if (row.isNullAt(i)) {
        throw new IllegalArgumentException(where(meta, id) + "no gradient (null). HINT: re-extract this checkpoint.");
      }
      byte[] b = (byte[]) row.get(i);
      if (b.length != 4L * meta.dim()) {
        throw new IllegalArgumentException(where(meta, id) + "gradient has " + b.length + " bytes but the store"
            + " metadata needs " + 4L * meta.dim() + " (4 per value). HINT: re-extract this checkpoint.");
      }
      int off = 0;
      for (int l = 0; l < out.length; l++) {
        out[l] = new float[layers.get(l).size()];
        unpack(b, Platform.BYTE_ARRAY_OFFSET + 4L * off, out[l], 0, out[l].length);
        off += out[l].length;
      }
      return out;
    }
    for (int l = 0; l < out.length; l++) {
      StoreMetadata.Layer layer = layers.get(l);
      int i = row.fieldIndex(layer.column());
      if (row.isNullAt(i)) {
        throw new IllegalArgumentException(where(meta, id) + "layer '" + layer.name() + "': no gradient (null)."
            + " HINT: re-extract this checkpoint.");
      }
      List<Object> v = row.getList(i);
      if (v.size() != layer.size()) {
        throw new IllegalArgumentException(where(meta, id) + "layer '" + layer.name() + "' has " + v.size()
            + " values but the store metadata needs " + layer.size() + ". HINT: re-extract this checkpoint.");
      }
      out[l] = new float[v.size()];
      for (int k = 0; k < out[l].length; k++) {
        out[l][k] = ((Number) v.get(k)).floatValue();
      }
    }
    return out;
  }

  /** {@link #layers} concatenated: the row's {@code dim} floats in metadata order. */
  public static float[] values(Row row, StoreMetadata meta) {
    float[] out = new float[meta.dim()];
    int off = 0;
    for (float[] l : layers(row, meta)) {
      System.arraycopy(l, 0, out, off, l.length);
      off += l.length;
    }
    return out;
  }

  private static String where(StoreMetadata meta, String id) {
    return "checkpoint '" + meta.checkpoint() + "', example '" + id + "': ";
  }
}
