package io.influence.core.score;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/*
 * A fixed order of tracked layers and their gradient shapes, and the one flat layout used to
 * turn a per-layer gradient map into a vector (and back):
 *
 *   vector = [ layer_0 row-major (C order) | layer_1 row-major | ... ],  dim = Σ_l rows_l·cols_l
 *
 * Every flat consumer (Hessian-vector operators, GEMM scoring, TracIn) uses this order, so a
 * LinearOperator built over "the flattened gradient" must be built with the same layout.
 * Flattening checks that the map has exactly these layers with these shapes and that every
 * value is finite, and names the example and layer when not.
 */
public final class LayerLayout implements java.io.Serializable {

  private static final long serialVersionUID = 1L;

  private final List<String> layers;
  private final Map<String, long[]> shapes;
  private final Map<String, Integer> offsets;
  private final int dim;

  private LayerLayout(List<String> layers, Map<String, long[]> shapes) {
    if (layers.isEmpty()) {
      throw new IllegalArgumentException("a layer layout needs at least one layer");
    }
    this.layers = List.copyOf(layers);
    if (this.layers.size() != Set.copyOf(this.layers).size()) {
      throw new IllegalArgumentException("layer names repeat in " + layers);
    }
    Map<String, long[]> s = new LinkedHashMap<>();
    Map<String, Integer> o = new LinkedHashMap<>();
    long total = 0;
    for (String layer : this.layers) {
      long[] shape = shapes.get(layer);
      if (shape == null || shape.length != 2 || shape[0] < 1 || shape[1] < 1) {
        throw new IllegalArgumentException("layer '" + layer + "' needs a [rows, cols] shape with rows, cols >= 1, got "
            + (shape == null ? "none" : Arrays.toString(shape)));
      }
      s.put(layer, shape.clone());
      o.put(layer, (int) total);
      total += shape[0] * shape[1];
    }
    if (total > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("flattened gradient has " + total + " entries, more than a Java array holds."
          + " HINT: project the gradients (LoGra) or split the layers.");
    }
    this.shapes = Collections.unmodifiableMap(s);
    this.offsets = Collections.unmodifiableMap(o);
    this.dim = (int) total;
  }

  /** A layout with the given layer order and {@code [rows, cols]} shapes. */
  public static LayerLayout of(List<String> layers, Map<String, long[]> shapes) {
    return new LayerLayout(layers, shapes);
  }

  /** A layout with the given layer order and the shapes of {@code example}'s matrices. */
  public static LayerLayout ofExample(List<String> layers, Map<String, INDArray> example) {
    Map<String, long[]> shapes = new LinkedHashMap<>();
    for (String layer : layers) {
      INDArray a = example.get(layer);
      if (a == null) {
        throw new IllegalArgumentException("example has no layer '" + layer + "'; it has " + example.keySet());
      }
      shapes.put(layer, a.shape());
    }
    return new LayerLayout(layers, shapes);
  }

  public List<String> layers() {
    return layers;
  }

  /** {@code [rows, cols]} of a layer (a copy). */
  public long[] shape(String layer) {
    return requireLayer(layer).clone();
  }

  /** Index of the layer's first entry in the flat vector. */
  public int offset(String layer) {
    requireLayer(layer);
    return offsets.get(layer);
  }

  /** Number of entries of one layer. */
  public int size(String layer) {
    long[] s = requireLayer(layer);
    return (int) (s[0] * s[1]);
  }

  /** Length of the flat vector. */
  public int dim() {
    return dim;
  }

  /** The flat float64 vector of one gradient; throws IllegalArgumentException naming {@code id} on bad input. */
  public double[] toVector(String id, Map<String, INDArray> gradient) {
    return toVector(null, id, gradient);
  }

  /** As {@link #toVector(String, Map)}, with {@code context} (e.g. "checkpoint 'step-100'") in error messages. */
  public double[] toVector(String context, String id, Map<String, INDArray> gradient) {
    double[] out = new double[dim];
    write(id, gradient, out, 0, context);
    return out;
  }

  /**
   * Stacks gradients as the rows of a {@code [n, dim]} matrix of {@code dtype} (C order).
   * {@code context} (e.g. "checkpoint step-100") is put in error messages.
   */
  public INDArray toMatrix(List<String> ids, List<Map<String, INDArray>> gradients, DataType dtype, String context) {
    if (ids.size() != gradients.size()) {
      throw new IllegalArgumentException(context + ": " + ids.size() + " ids for " + gradients.size() + " gradients");
    }
    int n = gradients.size();
    if (dtype != DataType.DOUBLE && dtype != DataType.FLOAT) {
      throw new IllegalArgumentException("scores are computed in FLOAT or DOUBLE, not " + dtype);
    }
    if (dtype == DataType.DOUBLE) {
      double[] all = new double[Math.multiplyExact(n, dim)];
      for (int i = 0; i < n; i++) {
        write(ids.get(i), gradients.get(i), all, (long) i * dim, context);
      }
      return Nd4j.create(all, new long[] {n, dim}, 'c');
    }
    double[] row = new double[dim];
    float[] all = new float[Math.multiplyExact(n, dim)];
    for (int i = 0; i < n; i++) {
      write(ids.get(i), gradients.get(i), row, 0, context);
      for (int j = 0; j < dim; j++) {
        all[i * dim + j] = (float) row[j];
      }
    }
    return Nd4j.create(all, new long[] {n, dim}, 'c');
  }

  /** Splits a flat vector back into per-layer {@code [rows, cols]} matrices of {@code dtype}, in layer order. */
  public Map<String, INDArray> fromVector(double[] v, DataType dtype) {
    if (v.length != dim) {
      throw new IllegalArgumentException("vector has length " + v.length + " but the layout has dimension " + dim);
    }
    Map<String, INDArray> out = new LinkedHashMap<>();
    for (String layer : layers) {
      long[] s = shapes.get(layer);
      int off = offsets.get(layer);
      double[] part = Arrays.copyOfRange(v, off, off + size(layer));
      out.put(layer, Nd4j.create(part, s, 'c').castTo(dtype));
    }
    return Collections.unmodifiableMap(out);
  }

  /** Checks layers, shapes and finiteness and copies one gradient into {@code out} from {@code start}. */
  private void write(String id, Map<String, INDArray> gradient, double[] out, long start, String context) {
    String where = (context == null ? "" : context + ": ") + "example '" + id + "'";
    if (!gradient.keySet().equals(shapes.keySet())) {
      List<String> missing = new ArrayList<>(layers);
      missing.removeAll(gradient.keySet());
      List<String> extra = new ArrayList<>(gradient.keySet());
      extra.removeAll(layers);
      throw new IllegalArgumentException(where + " has layers " + gradient.keySet() + " but the layout expects " + layers
          + " (missing " + missing + ", unexpected " + extra + "). HINT: extract every example with the same tracked layers.");
    }
    for (String layer : layers) {
      INDArray a = gradient.get(layer);
      long[] s = shapes.get(layer);
      if (a.rank() != 2 || a.size(0) != s[0] || a.size(1) != s[1]) {
        throw new IllegalArgumentException(where + ", layer '" + layer + "': shape " + Arrays.toString(a.shape())
            + " but the layout expects " + Arrays.toString(s)
            + ". HINT: query and training gradients must come from the same model and projection.");
      }
      double[] values = Nd4j.toFlattened('c', a).toDoubleVector();
      int off = (int) (start + offsets.get(layer));
      for (int j = 0; j < values.length; j++) {
        double x = values[j];
        if (!Double.isFinite(x)) {
          long r = j / s[1];
          long c = j % s[1];
          throw new IllegalArgumentException(where + ", layer '" + layer + "': gradient holds " + x + " at [" + r + ", " + c
              + "]. HINT: the loss overflowed for this example at this checkpoint; check the checkpoint and the"
              + " example's tokens, or drop the example.");
        }
        out[off + j] = x;
      }
    }
  }

  private long[] requireLayer(String layer) {
    long[] s = shapes.get(layer);
    if (s == null) {
      throw new IllegalArgumentException("unknown layer '" + layer + "'; the layout has " + layers);
    }
    return s;
  }

  @Override
  public String toString() {
    StringBuilder b = new StringBuilder("LayerLayout[");
    for (String layer : layers) {
      b.append(layer).append(Arrays.toString(shapes.get(layer))).append(' ');
    }
    return b.append("dim=").append(dim).append(']').toString();
  }
}
