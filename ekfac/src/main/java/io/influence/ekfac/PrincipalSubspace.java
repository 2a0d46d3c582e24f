package io.influence.ekfac;

import io.influence.core.grad.TokenFactors;
import io.influence.core.model.KroneckerProjection;
import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The principal Kronecker projection without forming a covariance: randomised subspace iteration with a final
 * Rayleigh-Ritz step (Halko, Martinsson and Tropp 2011, algorithms 4.4 and 5.3), for each layer and each side
 * ({@code A = Σ_t a_t a_tᵀ} and {@code S = Σ_t g_t g_tᵀ}).
 *
 * <p>Each side keeps an orthonormal basis {@code Q} of {@code m = min(d, k + oversample)} columns, the first drawn
 * from a seeded Gaussian. A pass over the token factors forms {@code Y = A Q = Σ_t a_t (a_tᵀ Q)} ({@link Sums});
 * {@link #next} orthonormalises {@code Y} into the next basis, {@link #finish} takes the eigenvectors of the small
 * {@code B = Qᵀ Y = Qᵀ A Q} and keeps the {@code k} Ritz vectors {@code Q u} of its largest eigenvalues. Memory is
 * {@code d × m} per side instead of {@code d × d}, which is what lets the basis be fitted on layers of any width;
 * when {@code m = d} one pass is exact ({@code Q} spans everything), and with fewer columns the top directions
 * converge geometrically in the passes at the rate of the eigenvalue gaps ({@code λ_{m+1} / λ_k}).
 *
 * <p>Numerics: float64 accumulation and two rounds of modified Gram-Schmidt; each Ritz vector's sign is fixed as in
 * {@link PrincipalProjection} (largest-magnitude entry positive). A column that Gram-Schmidt finds dependent
 * (a covariance of lower rank than {@code m}) is replaced by a fresh seeded Gaussian direction orthogonalised
 * against the rest, so the basis always has {@code m} orthonormal columns.
 */
public final class PrincipalSubspace implements Serializable {

  private static final long serialVersionUID = 1L;

  /** One layer's two bases, row-major {@code [d, m]}. */
  record Layer(String name, int dIn, int dOut, int kIn, int kOut, double[] qIn, int mIn, double[] qOut, int mOut)
      implements Serializable {}

  private final Map<String, Layer> layers;
  private final long seed;
  private final int round;
  /** Each layer's bases as arrays, built once per JVM (a broadcast value is shared by the executor's tasks). */
  private transient volatile Map<String, INDArray[]> bases;

  private PrincipalSubspace(Map<String, Layer> layers, long seed, int round) {
    this.layers = layers;
    this.seed = seed;
    this.round = round;
  }

  /**
   * Seeded Gaussian start for each layer of {@code dims} ({@code {dIn, dOut}}, bias column included in dIn), keeping
   * {@code kIn} and {@code kOut} directions with {@code oversample} extra columns per side.
   */
  public static PrincipalSubspace start(Map<String, int[]> dims, int kIn, int kOut, int oversample, long seed) {
    Map<String, Layer> out = new LinkedHashMap<>();
    for (Map.Entry<String, int[]> e : dims.entrySet()) {
      int dIn = e.getValue()[0];
      int dOut = e.getValue()[1];
      if (kIn < 1 || kIn > dIn || kOut < 1 || kOut > dOut || oversample < 0) {
        throw new IllegalArgumentException("layer " + e.getKey() + ": a principal projection keeps 1.." + dIn
            + " input and 1.." + dOut + " output directions, got kIn=" + kIn + ", kOut=" + kOut);
      }
      int mIn = Math.min(dIn, kIn + oversample);
      int mOut = Math.min(dOut, kOut + oversample);
      Random rnd = new Random(seed ^ e.getKey().hashCode());
      out.put(e.getKey(), new Layer(e.getKey(), dIn, dOut, kIn, kOut, orthonormal(gaussian(rnd, dIn, mIn), dIn, mIn,
          rnd), mIn, orthonormal(gaussian(rnd, dOut, mOut), dOut, mOut, rnd), mOut));
    }
    return new PrincipalSubspace(out, seed, 0);
  }

  /** Passes over the data this basis still needs: one when every side already spans its whole space. */
  public boolean exactAfterOnePass() {
    return layers.values().stream().allMatch(l -> l.mIn() == l.dIn() && l.mOut() == l.dOut());
  }

  /** Empty sums for one task. */
  public Sums sums() {
    Map<String, double[][]> y = new LinkedHashMap<>();
    for (Layer l : layers.values()) {
      y.put(l.name(), new double[][] {new double[l.dIn() * l.mIn()], new double[l.dOut() * l.mOut()]});
    }
    return new Sums(y);
  }

  /** {@code Y_in += aᵀ (a Q_in)} and {@code Y_out += gᵀ (g Q_out)} for one example's factors of one layer. */
  public void add(Sums sums, TokenFactors f) {
    Layer l = layers.get(f.layer());
    if (l == null || f.dIn() != l.dIn() || f.dOut() != l.dOut()) {
      throw new IllegalArgumentException("token factors of layer " + f.layer() + " [" + f.dIn() + ", " + f.dOut()
          + "] do not match the subspace's layers");
    }
    INDArray[] q = bases().get(l.name());
    sums.add(l.name(), 0, f.a(), q[0]);
    sums.add(l.name(), 1, f.g(), q[1]);
  }

  private Map<String, INDArray[]> bases() {
    Map<String, INDArray[]> b = bases;
    if (b == null) {
      synchronized (this) {
        if (bases == null) {
          Map<String, INDArray[]> built = new LinkedHashMap<>();
          for (Layer l : layers.values()) {
            built.put(l.name(), new INDArray[] {Nd4j.create(l.qIn(), new long[] {l.dIn(), l.mIn()}, 'c'),
                Nd4j.create(l.qOut(), new long[] {l.dOut(), l.mOut()}, 'c')});
          }
          bases = built;
        }
        b = bases;
      }
    }
    return b;
  }

  /** The next basis: each {@code Y} orthonormalised. */
  public PrincipalSubspace next(Sums sums) {
    Map<String, Layer> out = new LinkedHashMap<>();
    for (Layer l : layers.values()) {
      double[][] y = sums.values(l.name());
      Random rnd = new Random((seed ^ l.name().hashCode()) + 31L * (round + 1));
      out.put(l.name(), new Layer(l.name(), l.dIn(), l.dOut(), l.kIn(), l.kOut(),
          orthonormal(y[0].clone(), l.dIn(), l.mIn(), rnd), l.mIn(), orthonormal(y[1].clone(), l.dOut(), l.mOut(), rnd),
          l.mOut()));
    }
    return new PrincipalSubspace(out, seed, round + 1);
  }

  /** The projections: per layer and side, the Ritz vectors of the {@code k} largest eigenvalues of {@code Qᵀ Y}. */
  public Map<String, KroneckerProjection> finish(Sums sums, DataType dataType) {
    Map<String, KroneckerProjection> out = new LinkedHashMap<>();
    for (Layer l : layers.values()) {
      double[][] y = sums.values(l.name());
      double[] pIn = ritz(l.qIn(), y[0], l.dIn(), l.mIn(), l.kIn(), "layer " + l.name() + " A");
      double[] pOut = ritz(l.qOut(), y[1], l.dOut(), l.mOut(), l.kOut(), "layer " + l.name() + " S");
      out.put(l.name(), KroneckerProjection.of(l.name(),
          Nd4j.create(pIn, new long[] {l.kIn(), l.dIn()}, 'c').castTo(dataType),
          Nd4j.create(pOut, new long[] {l.kOut(), l.dOut()}, 'c').castTo(dataType)));
    }
    return out;
  }

  /** Row-major {@code [k, d]}: the top-k Ritz vectors of the subspace {@code q} given {@code y = A q}. */
  private static double[] ritz(double[] q, double[] y, int d, int m, int k, String what) {
    INDArray qm = Nd4j.create(q, new long[] {d, m}, 'c');
    INDArray ym = Nd4j.create(y, new long[] {d, m}, 'c');
    double[] b = qm.transpose().mmul(ym).dup('c').data().asDouble();   // [m, m], symmetrised by the eigensolver
    double[] u = PrincipalProjection.top(b, m, k, what);              // [k, m]: eigenvectors of B, largest first
    INDArray v = Nd4j.create(u, new long[] {k, m}, 'c').mmul(qm.transpose()).dup('c');   // [k, d] = (Q U)ᵀ
    double[] out = v.data().asDouble();
    PrincipalProjection.fixSigns(out, k, d);
    return out;
  }

  private static double[] gaussian(Random rnd, int d, int m) {
    double[] x = new double[d * m];
    for (int i = 0; i < x.length; i++) {
      x[i] = rnd.nextGaussian();
    }
    return x;
  }

  /** Row-major {@code [d, m]} with orthonormal columns spanning {@code x}'s (two rounds of modified Gram-Schmidt). */
  static double[] orthonormal(double[] x, int d, int m, Random rnd) {
    double[][] cols = new double[m][d];
    for (int j = 0; j < m; j++) {
      for (int i = 0; i < d; i++) {
        cols[j][i] = x[i * m + j];
      }
    }
    for (int j = 0; j < m; j++) {
      double before = norm(cols[j]);
      for (int attempt = 0; ; attempt++) {
        for (int round = 0; round < 2; round++) {
          for (int p = 0; p < j; p++) {
            double dot = 0;
            for (int i = 0; i < d; i++) {
              dot += cols[j][i] * cols[p][i];
            }
            for (int i = 0; i < d; i++) {
              cols[j][i] -= dot * cols[p][i];
            }
          }
        }
        double n = norm(cols[j]);
        if (n > 1e-10 * Math.max(before, Double.MIN_NORMAL) && n > 0) {
          for (int i = 0; i < d; i++) {
            cols[j][i] /= n;
          }
          break;
        }
        if (attempt > 8) {
          throw new IllegalStateException("cannot complete an orthonormal basis of " + m + " columns in dimension " + d);
        }
        for (int i = 0; i < d; i++) {   // dependent: a fresh direction, made orthogonal on the next round
          cols[j][i] = rnd.nextGaussian();
        }
        before = norm(cols[j]);
      }
    }
    double[] out = new double[d * m];
    for (int j = 0; j < m; j++) {
      for (int i = 0; i < d; i++) {
        out[i * m + j] = cols[j][i];
      }
    }
    return out;
  }

  private static double norm(double[] v) {
    double s = 0;
    for (double x : v) {
      s += x * x;
    }
    return Math.sqrt(s);
  }

  /** The layers, in order. */
  public List<String> layerNames() {
    return List.copyOf(layers.keySet());
  }

  /**
   * Per layer, {@code Y = A Q} of the input side and {@code S Q} of the output side, row-major {@code [d, m]}. Adds go
   * to float64 arrays that are folded into the sums on merge, on read and when serialised (as
   * {@link CovarianceAccumulator} does); a task returns a fresh snapshot merged from its working sums, so nothing is
   * pending whichever serializer carries it.
   */
  public static final class Sums implements Serializable {
    private static final long serialVersionUID = 1L;
    private final Map<String, double[][]> y;
    private transient Map<String, INDArray[]> pending;

    Sums(Map<String, double[][]> y) {
      this.y = y;
    }

    /** {@code pending[side] += xᵀ (x q)} for one example's factor {@code x [T, d]} and basis {@code q [d, m]}. */
    void add(String layer, int side, INDArray x, INDArray q) {
      if (pending == null) {
        pending = new LinkedHashMap<>();
      }
      INDArray[] p = pending.computeIfAbsent(layer, k -> new INDArray[2]);
      if (p[side] == null) {
        p[side] = Nd4j.create(DataType.DOUBLE, new long[] {q.rows(), q.columns()}, 'f');
      }
      INDArray xd = x.castTo(DataType.DOUBLE);
      Nd4j.gemm(xd, xd.mmul(q), p[side], true, false, 1.0, 1.0);
    }

    /** The sums of {@code layer} (input side, output side), pending adds included. */
    double[][] values(String layer) {
      flush();
      return y.get(layer);
    }

    /** Adds {@code other} into this and returns this. */
    public Sums merge(Sums other) {
      flush();
      other.flush();
      for (Map.Entry<String, double[][]> e : y.entrySet()) {
        double[][] o = other.y.get(e.getKey());
        for (int s = 0; s < 2; s++) {
          for (int i = 0; i < e.getValue()[s].length; i++) {
            e.getValue()[s][i] += o[s][i];
          }
        }
      }
      return this;
    }

    private void flush() {
      if (pending == null) {
        return;
      }
      for (Map.Entry<String, INDArray[]> e : pending.entrySet()) {
        for (int s = 0; s < 2; s++) {
          INDArray p = e.getValue()[s];
          if (p != null) {
            double[] v = p.dup('c').data().asDouble();   // row-major, the layout of y
            double[] sum = y.get(e.getKey())[s];
            for (int i = 0; i < sum.length; i++) {
              sum[i] += v[i];
            }
            p.assign(0.0);
          }
        }
      }
    }

    private void writeObject(java.io.ObjectOutputStream out) throws java.io.IOException {
      flush();
      out.defaultWriteObject();
    }
  }
}
