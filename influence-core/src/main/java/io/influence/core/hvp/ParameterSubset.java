package io.influence.core.hvp;

import io.influence.core.model.CausalLm;
import io.influence.core.model.LinearLayer;
import io.influence.core.score.LayerLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/*
 * The parameters θ_S of a chosen set of tracked linear layers of a float64 CausalLm, as one flat
 * vector in LayerLayout order: per layer the matrix G [dOut, cols] row-major in the LinearLayer
 * orientation (weight in the first dIn columns, the bias, if any, last). This is the space of
 * per-example gradients, so the operators built on it act on flattened gradients.
 *
 * It moves the model to θ_S + s·v through CausalLm.parameterViews() (the sum is formed in float64
 * from a saved copy of θ_S, so nothing accumulates) and restores the saved copy bit for bit.
 */
final class ParameterSubset {

  private final CausalLm model;
  private final List<String> layers;
  private final List<LinearLayer> linears = new ArrayList<>();
  private final LayerLayout layout;
  private final List<INDArray> views = new ArrayList<>();     // weight, bias per layer (live)
  private final List<INDArray> saved = new ArrayList<>();     // copies
  private final List<double[]> savedValues = new ArrayList<>();
  private double norm;

  ParameterSubset(CausalLm model, List<String> layers, boolean requireDouble) {
    if (requireDouble && model.dataType() != DataType.DOUBLE) {
      throw new IllegalArgumentException("Hessian-vector products by differences need a float64 model, got "
          + model.dataType() + "; HINT: use model.withDataType(DataType.DOUBLE)");
    }
    if (layers == null || layers.isEmpty()) {
      throw new IllegalArgumentException("no layers chosen; HINT: pick tracked layers such as "
          + model.linearLayers().get(0));
    }
    this.model = model;
    this.layers = List.copyOf(layers);
    Map<String, long[]> shapes = new LinkedHashMap<>();
    Map<String, INDArray> pv = model.parameterViews();
    for (String l : this.layers) {
      LinearLayer ll = model.linear(l);   // throws with a hint for unknown layers
      linears.add(ll);
      shapes.put(l, new long[] {ll.dOut(), ll.cols()});
      views.add(pv.get(ll.weight()));
      views.add(ll.hasBias() ? pv.get(ll.bias()) : null);
    }
    this.layout = LayerLayout.of(this.layers, shapes);
    capture();
  }

  /** Saves the current θ_S (the point every later product is taken at, until the next capture). */
  void capture() {
    saved.clear();
    savedValues.clear();
    double ss = 0;
    for (INDArray v : views) {
      if (v == null) {
        saved.add(null);
        savedValues.add(null);
        continue;
      }
      INDArray copy = v.dup('c');
      saved.add(copy);
      double[] values = copy.data().asDouble();
      savedValues.add(values);
      for (double x : values) {
        ss += x * x;
      }
    }
    norm = Math.sqrt(ss);
  }

  LayerLayout layout() {
    return layout;
  }

  int dim() {
    return layout.dim();
  }

  /** ‖θ_S‖ (Euclidean, float64) at the last capture. */
  double norm() {
    return norm;
  }

  /** Sets the model's chosen layers to {@code θ_S + s·v}. */
  void setShifted(double[] v, double s) {
    for (int k = 0; k < layers.size(); k++) {
      LinearLayer ll = linears.get(k);
      double[][] step = ll.toHuggingFace(v, layout.offset(ll.name()));
      for (int part = 0; part < 2; part++) {
        INDArray view = views.get(2 * k + part);
        if (view == null) {
          continue;
        }
        double[] x = savedValues.get(2 * k + part).clone();
        for (int i = 0; i < x.length; i++) {
          x[i] += s * step[part][i];
        }
        view.assign(Nd4j.create(x, view.shape(), 'c'));
      }
    }
  }

  /** Puts the saved θ_S back (bit-identical). */
  void restore() {
    for (int k = 0; k < views.size(); k++) {
      if (views.get(k) != null) {
        views.get(k).assign(saved.get(k));
      }
    }
  }

  /** Adds {@code scale ·} (the chosen layers' part of a Hugging Face-named gradient map) to {@code out}. */
  void accumulate(Map<String, INDArray> gradients, double scale, double[] out) {
    for (LinearLayer ll : linears) {
      ll.addTo(gradients, scale, out, layout.offset(ll.name()));
    }
  }

  /** Adds {@code scale ·} each chosen layer's {@code [dOut, cols]} gradient matrix (as the layout orders it) to {@code out}. */
  void accumulateLayers(Map<String, INDArray> byLayer, double scale, double[] out) {
    for (String l : layers) {
      double[] g = byLayer.get(l).castTo(DataType.DOUBLE).dup('c').data().asDouble();
      int offset = layout.offset(l);
      for (int i = 0; i < g.length; i++) {
        out[offset + i] += scale * g[i];
      }
    }
  }

  /** The chosen layers, in the layout's order. */
  List<String> layers() {
    return layers;
  }

  /**
   * The finite-difference step {@code ε} for direction {@code v}: {@code ε‖v‖ = relativeStep · max(‖θ_S‖, 1)},
   * so the perturbation is a fixed fraction of the parameters whatever the scale of {@code v}.
   */
  double step(double[] v, double relativeStep) {
    double ss = 0;
    for (double x : v) {
      if (!Double.isFinite(x)) {
        throw new IllegalArgumentException("the vector holds " + x + "; HINT: Hessian-vector products need finite input");
      }
      ss += x * x;
    }
    return ss == 0 ? 0 : relativeStep * Math.max(norm, 1.0) / Math.sqrt(ss);
  }

  CausalLm model() {
    return model;
  }

  void checkDim(double[] v, double[] out) {
    if (v.length != dim() || out.length != dim()) {
      throw new IllegalArgumentException("vectors have lengths " + v.length + " and " + out.length + " but the operator over "
          + layers + " has dimension " + dim() + "; HINT: flatten with the operator's layout()");
    }
  }

  static void checkFinite(double[] out, String what) {
    for (int i = 0; i < out.length; i++) {
      if (!Double.isFinite(out[i])) {
        throw new IllegalStateException(what + " holds " + out[i] + " at index " + i
            + "; HINT: the loss overflows near θ (check the checkpoint) or the step is too large");
      }
    }
  }
}
