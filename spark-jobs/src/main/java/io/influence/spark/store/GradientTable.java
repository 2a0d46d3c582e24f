package io.influence.spark.store;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * Checkpoints of one store joined on {@code id}: {@code rows} has {@code id} and, for checkpoint
 * {@code i} (in the order given), its packed gradient {@code c<i>__gradient} ({@link #packedColumn}; format 2) or,
 * for a format-1 checkpoint, the column {@code c<i>__<layer column>} of each layer. The wide
 * row read through {@link #gather()} is
 * <pre>
 *   [ checkpoint 0: layer_0 row-major | layer_1 | ... | checkpoint 1: layer_0 | ... ]   width = C · D
 * </pre>
 * i.e. checkpoint-major, and within a checkpoint the order of {@link StoreMetadata#layout()}.
 */
public record GradientTable(List<StoreMetadata> checkpoints, Dataset<Row> rows) {

  public GradientTable {
    checkpoints = List.copyOf(checkpoints);
    Objects.requireNonNull(rows, "rows");
    if (checkpoints.isEmpty()) {
      throw new IllegalArgumentException("a gradient table needs at least one checkpoint");
    }
  }

  /** Column of the {@code i}-th checkpoint's packed gradient (format 2, {@link StoredRow}). */
  public static String packedColumn(int i) {
    return "c" + i + "__" + StoredRow.COLUMN;
  }

  /** Column of layer {@code l} of the {@code i}-th checkpoint (a format-1 checkpoint). */
  public static String column(int i, StoreMetadata.Layer l) {
    return "c" + i + "__" + l.column();
  }

  /** Floats per checkpoint and row. */
  public int dim() {
    return checkpoints.get(0).dim();
  }

  /** Floats per wide row (checkpoints × dim). */
  public int width() {
    return Math.multiplyExact(checkpoints.size(), dim());
  }

  public List<String> checkpointNames() {
    List<String> out = new ArrayList<>();
    for (StoreMetadata m : checkpoints) {
      out.add(m.checkpoint());
    }
    return out;
  }

  /** A serializable reader of wide rows for executors, bound to {@code rows()}'s schema. */
  public RowGather gather() {
    return RowGather.of(this);
  }
}
