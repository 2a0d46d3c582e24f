package io.influence.ekfac;

import io.influence.core.grad.Preconditioner;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/*
 * Preconditioning stage of K-FAC / EK-FAC (Kronfluence's "preconditioning"): per layer,
 *
 *   (H + λI)⁻¹ V = Q_S [ (Q_Sᵀ V Q_A) ⊘ (Λ + λ) ] Q_Aᵀ,
 *
 * block-diagonal over layers, where V is the layer's [dOut, dIn] gradient (or its projection
 * [kOut, kIn]), Λ the K-FAC eigenvalues T̄ λ^S_i λ^A_j or the EK-FAC corrected ones, and λ the
 * layer's damping (Damping.resolve on that layer's Λ).
 *
 * Numerics: the eigenbases and 1/(Λ + λ) are computed once in float64 and materialised lazily
 * in the data type of the incoming gradient (float32 on the scoring path, float64 in tests), as
 * 'f'-ordered arrays; four Nd4j.gemm calls per layer. Thread-safe: the per-type tables are
 * immutable once built.
 */
final class KroneckerPreconditioner implements Preconditioner {

  private final String method;
  private final Map<String, Layer> layers;

  private static final class Layer {
    final String name;
    final int dIn;
    final int dOut;
    final double[] qA;
    final double[] qS;
    final double[] inverse;
    final double damping;
    final Map<DataType, INDArray[]> byType = new ConcurrentHashMap<>();

    Layer(LayerFactors f, double[] eigenvalues, Damping damping) {
      this.name = f.layer();
      this.dIn = f.dIn();
      this.dOut = f.dOut();
      this.qA = f.qA();
      this.qS = f.qS();
      this.damping = damping.resolve(eigenvalues);
      this.inverse = new double[eigenvalues.length];
      for (int k = 0; k < eigenvalues.length; k++) {
        double d = eigenvalues[k] + this.damping;
        if (!(d > 0) || Double.isInfinite(d)) {
          throw new IllegalStateException("layer " + name + ": eigenvalue " + eigenvalues[k] + " + damping " + this.damping
              + " is not positive and finite, the damped curvature is singular. HINT: use a positive damping "
              + "(Damping.relativeToMean(0.1) or Damping.absolute(λ > 0)).");
        }
        inverse[k] = 1.0 / d;
      }
    }

    /** {qA, qS, inverse} as 'f'-ordered arrays of type {@code t}. */
    INDArray[] tables(DataType t) {
      return byType.computeIfAbsent(t, type -> new INDArray[] {
          Nd4j.create(qA, new long[] {dIn, dIn}, 'c').castTo(type).dup('f'),
          Nd4j.create(qS, new long[] {dOut, dOut}, 'c').castTo(type).dup('f'),
          Nd4j.create(inverse, new long[] {dOut, dIn}, 'c').castTo(type).dup('f')});
    }
  }

  KroneckerPreconditioner(String method, Map<String, LayerFactors> factors, Damping damping, boolean corrected) {
    this.method = method;
    Objects.requireNonNull(damping, "damping");
    if (factors.isEmpty()) {
      throw new IllegalArgumentException(method + ": no layer factors given. HINT: fit factors for at least one tracked layer.");
    }
    Map<String, Layer> m = new LinkedHashMap<>();
    for (Map.Entry<String, LayerFactors> e : factors.entrySet()) {
      LayerFactors f = e.getValue();
      if (!e.getKey().equals(f.layer())) {
        throw new IllegalArgumentException(method + ": factors stored under key " + e.getKey() + " belong to layer " + f.layer());
      }
      m.put(f.layer(), new Layer(f, corrected ? f.ekfacEigenvalues() : f.kfacEigenvalues(), damping));
    }
    this.layers = Collections.unmodifiableMap(m);
  }

  @Override
  public String method() {
    return method;
  }

  /** The resolved absolute damping of each layer. */
  Map<String, Double> damping() {
    Map<String, Double> out = new LinkedHashMap<>();
    layers.forEach((k, v) -> out.put(k, v.damping));
    return out;
  }

  @Override
  public Map<String, INDArray> apply(Map<String, INDArray> gradient) {
    Map<String, INDArray> out = new LinkedHashMap<>();
    for (Map.Entry<String, INDArray> e : gradient.entrySet()) {
      Layer l = layers.get(e.getKey());
      if (l == null) {
        throw new IllegalArgumentException(method + ": gradient has layer " + e.getKey() + " but factors exist only for "
            + layers.keySet() + ". HINT: fit factors for every tracked layer, or track the same layers when scoring.");
      }
      INDArray v = e.getValue();
      if (v.rank() != 2 || v.rows() != l.dOut || v.columns() != l.dIn) {
        throw new IllegalArgumentException(method + ": layer " + l.name + ": gradient must be [" + l.dOut + ", " + l.dIn
            + "], got " + Arrays.toString(v.shape()) + ". HINT: factors fitted on projected gradients need gradients "
            + "with the same projection (and vice versa).");
      }
      Checks.requireFinite(v, "gradient", l.name, null);
      out.put(e.getKey(), apply(l, v));
    }
    return out;
  }

  private static INDArray apply(Layer l, INDArray v) {
    DataType in = v.dataType();
    DataType t = in == DataType.DOUBLE ? DataType.DOUBLE : DataType.FLOAT;
    INDArray[] tab = l.tables(t);
    INDArray x = v.castTo(t);
    INDArray left = Nd4j.create(t, new long[] {l.dOut, l.dIn}, 'f');
    INDArray rot = Nd4j.create(t, new long[] {l.dOut, l.dIn}, 'f');
    Nd4j.gemm(tab[1], x, left, true, false, 1.0, 0.0);   // Q_Sᵀ V
    Nd4j.gemm(left, tab[0], rot, false, false, 1.0, 0.0); // (Q_Sᵀ V) Q_A
    rot.muli(tab[2]);                                     // ⊘ (Λ + λ)
    Nd4j.gemm(tab[1], rot, left, false, false, 1.0, 0.0); // Q_S (...)
    Nd4j.gemm(left, tab[0], rot, false, true, 1.0, 0.0);  // (...) Q_Aᵀ
    return rot.castTo(in).dup('c');
  }
}
