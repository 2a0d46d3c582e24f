package io.influence.ekfac;

import io.influence.core.grad.TokenFactors;
import java.io.Serializable;
import java.util.Arrays;
import java.util.Objects;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/*
 * Eigenvalue-correction pass of EK-FAC (George et al. 2018, §3; Grosse et al. 2023, eq. 20;
 * Kronfluence's "lambda" stage), for one layer: Λ_ij = E_z[(Q_Sᵀ G(z) Q_A)_ij²] with the
 * per-example gradient G(z) = gᵀ a = Σ_t g_t a_tᵀ (dOut×dIn).
 *
 * Hot path, float32, three Nd4j.gemm calls into preallocated 'f'-ordered float32 buffers
 * (transient; rebuilt after deserialisation), in whichever order costs fewer flops:
 *   gradient first:  G = gᵀa, R = (Q_Sᵀ G) Q_A       2·(T·dOut·dIn + dOut²·dIn + dOut·dIn²)
 *   tokens first:    R = (g Q_S)ᵀ (a Q_A)            2·(T·dOut² + T·dIn² + T·dOut·dIn)
 * (tokens first wins for short sequences, T below about min(dIn, dOut); its [T, ·] buffers are
 * kept for the last T seen). The squares R∘R are added to a float64 double[] sum (column-major
 * dOut×dIn), so rounding in the sum does not grow with the number of examples.
 *
 * Normalisation: divided by the (weighted) number of EXAMPLES, not tokens: Λ estimates the
 * Gauss-Newton matrix of the per-example summed loss averaged over examples, the same H that
 * LayerFactors.kfacEigenvalues() scales the token-averaged covariances to (T̄ S ⊗ A).
 *
 * Serialised state: dims, the two eigenbases (float[] column-major, fixed), the double[] sum and
 * the counts. Mergeable (same layer, dims and bases) like a Spark MLlib aggregator.
 * Not thread-safe.
 */
/** Mergeable accumulator of EK-FAC's corrected eigenvalues for one layer. */
public final class EigenvalueCorrection implements Serializable {

  private static final long serialVersionUID = 1L;

  private final String layer;
  private final int dIn;
  private final int dOut;
  private final float[] qAColMajor;
  private final float[] qSColMajor;
  private final double[] sum;
  private long examples;
  private double exampleWeight;

  private transient INDArray qA;
  private transient INDArray qS;
  private transient INDArray grad;
  private transient INDArray left;
  private transient INDArray rotated;
  private transient INDArray gRot;
  private transient INDArray aRot;

  /** An empty accumulator in the eigenbases of {@code factors} (from the covariance pass). */
  public EigenvalueCorrection(LayerFactors factors) {
    this.layer = factors.layer();
    this.dIn = factors.dIn();
    this.dOut = factors.dOut();
    this.qAColMajor = colMajorFloats(factors.qA(), dIn);
    this.qSColMajor = colMajorFloats(factors.qS(), dOut);
    this.sum = new double[Math.multiplyExact(dOut, dIn)];
  }

  private static float[] colMajorFloats(double[] rowMajor, int n) {
    float[] out = new float[rowMajor.length];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        out[j * n + i] = (float) rowMajor[i * n + j];
      }
    }
    return out;
  }

  public String layer() { return layer; }

  public long examples() { return examples; }

  public EigenvalueCorrection add(TokenFactors f) {
    return add(f, 1.0, null);
  }

  /** Adds one example given by its token factors; {@code exampleId} is for messages and may be null. */
  public EigenvalueCorrection add(TokenFactors f, double weight, String exampleId) {
    Objects.requireNonNull(f, "f");
    if (!f.layer().equals(layer) || f.dIn() != dIn || f.dOut() != dOut) {
      throw new IllegalArgumentException(Checks.where(layer, exampleId) + ": expected token factors of layer " + layer
          + " with a [T, " + dIn + "] and g [T, " + dOut + "], got layer " + f.layer() + " with a "
          + Arrays.toString(f.a().shape()) + " and g " + Arrays.toString(f.g().shape())
          + ". HINT: use the same layers and projection sizes as the covariance pass.");
    }
    Checks.requireWeightAndFinite(f, weight, layer, exampleId);
    ensureBuffers();
    long t = f.tokens();
    double gradientFirst = (double) t * dOut * dIn + (double) dOut * dOut * dIn + (double) dOut * dIn * dIn;
    double tokensFirst = (double) t * dOut * dOut + (double) t * dIn * dIn + (double) t * dOut * dIn;
    if (t == 0) {
      grad.assign(0f);
      rotate();
    } else if (tokensFirst < gradientFirst) {
      if (gRot == null || gRot.rows() != t) {
        gRot = Nd4j.create(DataType.FLOAT, new long[] {t, dOut}, 'f');
        aRot = Nd4j.create(DataType.FLOAT, new long[] {t, dIn}, 'f');
      }
      Nd4j.gemm(asFloat(f.g()), qS, gRot, false, false, 1.0, 0.0);
      Nd4j.gemm(asFloat(f.a()), qA, aRot, false, false, 1.0, 0.0);
      Nd4j.gemm(gRot, aRot, rotated, true, false, 1.0, 0.0);
    } else {
      Nd4j.gemm(asFloat(f.g()), asFloat(f.a()), grad, true, false, 1.0, 0.0);
      rotate();
    }
    accumulateSquares(weight);
    return this;
  }

  /**
   * Adds one example given by its gradient {@code G} ({@code [dOut, dIn]}, e.g. a stored
   * projected gradient).
   */
  public EigenvalueCorrection addGradient(INDArray gradient, double weight, String exampleId) {
    Objects.requireNonNull(gradient, "gradient");
    if (gradient.rank() != 2 || gradient.rows() != dOut || gradient.columns() != dIn) {
      throw new IllegalArgumentException(Checks.where(layer, exampleId) + ": expected a gradient [" + dOut + ", " + dIn
          + "], got " + Arrays.toString(gradient.shape()) + ". HINT: gradients are [dOut, dIn] (bias as the last column).");
    }
    Checks.requireWeight(weight, layer, exampleId);
    Checks.requireFinite(gradient, "gradient", layer, exampleId);
    ensureBuffers();
    grad.assign(gradient);
    rotate();
    accumulateSquares(weight);
    return this;
  }

  private static INDArray asFloat(INDArray x) {
    return x.dataType() == DataType.FLOAT ? x : x.castTo(DataType.FLOAT);
  }

  /** rotated = Q_Sᵀ grad Q_A. */
  private void rotate() {
    Nd4j.gemm(qS, grad, left, true, false, 1.0, 0.0);
    Nd4j.gemm(left, qA, rotated, false, false, 1.0, 0.0);
  }

  private void accumulateSquares(double weight) {
    float[] r = rotated.data().asFloat(); // 'f' order: column-major, the layout of sum
    for (int k = 0; k < sum.length; k++) {
      double v = r[k];
      sum[k] += weight * v * v;
    }
    examples += 1;
    exampleWeight += weight;
  }

  private void ensureBuffers() {
    if (qA == null) {
      qA = Nd4j.create(qAColMajor, new long[] {dIn, dIn}, 'f');
      qS = Nd4j.create(qSColMajor, new long[] {dOut, dOut}, 'f');
      grad = Nd4j.create(DataType.FLOAT, new long[] {dOut, dIn}, 'f');
      left = Nd4j.create(DataType.FLOAT, new long[] {dOut, dIn}, 'f');
      rotated = Nd4j.create(DataType.FLOAT, new long[] {dOut, dIn}, 'f');
    }
  }

  public EigenvalueCorrection merge(EigenvalueCorrection other) {
    Objects.requireNonNull(other, "other");
    if (!other.layer.equals(layer) || other.dIn != dIn || other.dOut != dOut
        || !Arrays.equals(other.qAColMajor, qAColMajor) || !Arrays.equals(other.qSColMajor, qSColMajor)) {
      throw new IllegalArgumentException("cannot merge the eigenvalue correction of layer " + other.layer + " [dOut "
          + other.dOut + ", dIn " + other.dIn + "] into layer " + layer + " [dOut " + dOut + ", dIn " + dIn
          + "] (layer, dimensions and eigenbases must match). HINT: build every partition's accumulator from the same LayerFactors.");
    }
    for (int k = 0; k < sum.length; k++) {
      sum[k] += other.sum[k];
    }
    examples += other.examples;
    exampleWeight += other.exampleWeight;
    return this;
  }

  /** The corrected eigenvalues, row-major {@code dOut × dIn}, averaged over (weighted) examples. */
  public double[] finish() {
    if (!(exampleWeight > 0)) {
      throw new IllegalStateException("layer " + layer + ": no examples with positive weight were added to the "
          + "eigenvalue correction. HINT: run the correction pass over the training data.");
    }
    double[] out = new double[sum.length];
    for (int i = 0; i < dOut; i++) {
      for (int j = 0; j < dIn; j++) {
        out[i * dIn + j] = sum[j * dOut + i] / exampleWeight;
      }
    }
    return out;
  }
}
