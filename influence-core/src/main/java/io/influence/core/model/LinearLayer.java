package io.influence.core.model;

import java.util.Arrays;
import java.util.Map;
import java.util.Objects;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A tracked linear layer of a {@link CausalLm}: its name, sizes, and where its weight and bias live
 * among the model's Hugging Face-named parameters.
 *
 * <p>The engine works in one orientation for every family: a layer's per-example gradient (and any
 * vector in its parameter space) is the matrix {@code G [dOut, cols]}, row-major when flattened,
 * whose first {@code dIn} columns are the weight and, when the layer has a bias, whose last column
 * is the bias. Hugging Face stores the weight as {@code [dOut, dIn]} ({@code nn.Linear}: Llama,
 * LoRA factors) or as {@code [dIn, dOut]} (GPT-2's {@code Conv1D}: {@link #weightIsInByOut()}).
 *
 * @param name             the layer name used in settings and stores ({@code h.0.mlp.c_fc},
 *                         {@code model.layers.0.self_attn.q_proj})
 * @param dIn              input width
 * @param dOut             output width
 * @param weight           Hugging Face name of the weight parameter
 * @param bias             Hugging Face name of the bias parameter, or {@code null} for none
 * @param weightIsInByOut  whether the weight tensor is {@code [dIn, dOut]} (Conv1D) rather than {@code [dOut, dIn]}
 */
public record LinearLayer(String name, int dIn, int dOut, String weight, String bias, boolean weightIsInByOut) {

  public LinearLayer {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(weight, "weight");
    if (dIn <= 0 || dOut <= 0) {
      throw new IllegalArgumentException("layer " + name + " has sizes dIn=" + dIn + ", dOut=" + dOut);
    }
  }

  public boolean hasBias() {
    return bias != null;
  }

  /** Columns of the layer's gradient matrix: {@code dIn}, plus one for the bias. */
  public int cols() {
    return dIn + (hasBias() ? 1 : 0);
  }

  /** {@code {dOut, cols()}}: the shape of a per-example gradient of this layer. */
  public int[] shape() {
    return new int[] {dOut, cols()};
  }

  /** Number of entries of the gradient matrix. */
  public long size() {
    return (long) dOut * cols();
  }

  /**
   * Adds {@code scale ·} this layer's part of a Hugging Face-named map (parameters or their
   * gradients) to {@code out[offset ...]}, in the row-major {@code [dOut, cols]} orientation.
   */
  public void addTo(Map<String, INDArray> named, double scale, double[] out, int offset) {
    double[] w = values(named, weight);
    for (int o = 0; o < dOut; o++) {
      int row = offset + o * cols();
      for (int i = 0; i < dIn; i++) {
        out[row + i] += scale * w[weightIndex(o, i)];
      }
    }
    if (hasBias()) {
      double[] b = values(named, bias);
      for (int o = 0; o < dOut; o++) {
        out[offset + o * cols() + dIn] += scale * b[o];
      }
    }
  }

  /**
   * The weight and bias (bias {@code null} when absent) in their Hugging Face layouts, flattened
   * row-major, from a flat {@code [dOut, cols]} matrix at {@code flat[offset ...]}.
   */
  public double[][] toHuggingFace(double[] flat, int offset) {
    double[] w = new double[dIn * dOut];
    double[] b = hasBias() ? new double[dOut] : null;
    for (int o = 0; o < dOut; o++) {
      int row = offset + o * cols();
      for (int i = 0; i < dIn; i++) {
        w[weightIndex(o, i)] = flat[row + i];
      }
      if (b != null) {
        b[o] = flat[row + dIn];
      }
    }
    return new double[][] {w, b};
  }

  /**
   * {@code t} as a tangent (or any vector) of this layer's parameters in {@code dataType}, 'f'
   * ordered (a copy); refuses a wrong shape or a non-finite entry.
   */
  public INDArray requireTangent(INDArray t, DataType dataType) {
    int[] s = shape();
    if (t == null || t.rank() != 2 || t.size(0) != s[0] || t.size(1) != s[1]) {
      throw new IllegalArgumentException("tangent of layer " + name + " has shape "
          + (t == null ? "null" : Arrays.toString(t.shape())) + ", expected " + Arrays.toString(s)
          + "; HINT: [dOut, dIn (+1 for a bias)], the per-example gradient orientation with the bias last");
    }
    if (!Elementwise.allFinite(t)) {
      throw new IllegalArgumentException("tangent of layer " + name + " contains NaN or Inf");
    }
    return t.castTo(dataType).dup('f');
  }

  /** Index of weight entry (output {@code o}, input {@code i}) in the row-major Hugging Face tensor. */
  public int weightIndex(int o, int i) {
    return weightIsInByOut ? i * dOut + o : o * dIn + i;
  }

  private double[] values(Map<String, INDArray> named, String key) {
    INDArray a = named.get(key);
    if (a == null) {
      throw new IllegalArgumentException("no tensor " + key + " for layer " + name + "; HINT: pass the model's "
          + "parameters or gradients under Hugging Face names");
    }
    return a.dup('c').castTo(DataType.DOUBLE).data().asDouble();
  }
}
