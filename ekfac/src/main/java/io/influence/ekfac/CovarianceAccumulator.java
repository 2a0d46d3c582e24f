package io.influence.ekfac;

import io.influence.core.grad.TokenFactors;
import java.io.IOException;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.util.Arrays;
import java.util.Objects;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/*
 * Covariance pass of K-FAC / EK-FAC (Martens & Grosse 2015, eq. for Ω = E[a aᵀ], Γ = E[g gᵀ];
 * Kronfluence's "covariance" stage), for one tracked layer.
 *
 * State (all that is serialised): the raw sums Σ w·a_t a_tᵀ (dIn×dIn) and Σ w·g_t g_tᵀ
 * (dOut×dOut) as plain double[] in column-major order, the token and example counts, and the
 * weighted counts. Nothing is normalised until finish(), so add/merge are associative and
 * commutative up to float64 rounding: the shape of a Spark MLlib aggregator, usable as the
 * seqOp/combOp of treeAggregate.
 *
 * Numerics: each add() casts the token factors to float64 and runs one GEMM aᵀa (and gᵀg) with
 * beta = 1 into a transient 'f'-ordered float64 buffer, so a batch of T tokens costs one
 * BLAS-3 call, not T rank-one updates. The buffer is folded into the double[] sums (and zeroed)
 * before merge, serialisation and finish; finish symmetrises (X + Xᵀ)/2 because a blocked GEMM
 * need not produce a bit-symmetric aᵀa.
 *
 * Normalisation: both A and S are divided by the (weighted) number of tokens, as in Kronfluence.
 * The mean tokens per example is kept so that K-FAC eigenvalues estimate the Gauss-Newton matrix
 * of the per-example SUMMED loss averaged over examples (see LayerFactors).
 *
 * Agnostic to dimensions: projected factors (P_in a_t, P_out g_t) are accumulated the same way.
 * Not thread-safe; one accumulator per task, merged afterwards.
 */
/**
 * Mergeable accumulator of the activation and output-gradient covariances of one layer.
 * Use {@link #add(TokenFactors)} per example, {@link #merge} across partitions, then
 * {@link #finish()}. After an exception from {@code add} the accumulator must be discarded.
 */
public final class CovarianceAccumulator implements Serializable {

  private static final long serialVersionUID = 1L;

  private final String layer;
  private final int dIn;
  private final int dOut;
  private final double[] aSum;
  private final double[] sSum;
  private long tokens;
  private long examples;
  private double tokenWeight;
  private double exampleWeight;

  private transient INDArray pendingA;
  private transient INDArray pendingS;

  public CovarianceAccumulator(String layer, int dIn, int dOut) {
    this.layer = Objects.requireNonNull(layer, "layer");
    if (dIn <= 0 || dOut <= 0) {
      throw new IllegalArgumentException("layer " + layer + ": dIn and dOut must be positive, got " + dIn + ", " + dOut);
    }
    this.dIn = dIn;
    this.dOut = dOut;
    this.aSum = new double[Math.multiplyExact(dIn, dIn)];
    this.sSum = new double[Math.multiplyExact(dOut, dOut)];
  }

  public String layer() { return layer; }

  public int dIn() { return dIn; }

  public int dOut() { return dOut; }

  public long tokens() { return tokens; }

  public long examples() { return examples; }

  /** Adds one example with weight 1. */
  public CovarianceAccumulator add(TokenFactors f) {
    return add(f, 1.0, null);
  }

  /**
   * Adds one example's token factors with a weight (e.g. a model-sampled label's probability
   * when taking the Fisher expectation exactly). {@code exampleId} is only used in messages
   * and may be null.
   */
  public CovarianceAccumulator add(TokenFactors f, double weight, String exampleId) {
    Objects.requireNonNull(f, "f");
    if (!f.layer().equals(layer)) {
      throw new IllegalArgumentException(Checks.where(layer, exampleId) + ": got token factors of layer " + f.layer()
          + ". HINT: keep one accumulator per layer.");
    }
    if (f.dIn() != dIn || f.dOut() != dOut) {
      throw new IllegalArgumentException(Checks.where(layer, exampleId) + ": expected a [T, " + dIn + "] and g [T, "
          + dOut + "], got a " + Arrays.toString(f.a().shape()) + " and g " + Arrays.toString(f.g().shape())
          + ". HINT: the bias column (ones) must be appended consistently, and projected factors need the same projection sizes.");
    }
    Checks.requireWeightAndFinite(f, weight, layer, exampleId);
    int t = f.tokens();
    if (t > 0 && weight > 0) {
      if (pendingA == null) {
        pendingA = Nd4j.create(DataType.DOUBLE, new long[] {dIn, dIn}, 'f');
        pendingS = Nd4j.create(DataType.DOUBLE, new long[] {dOut, dOut}, 'f');
      }
      INDArray a = f.a().castTo(DataType.DOUBLE);
      INDArray g = f.g().castTo(DataType.DOUBLE);
      Nd4j.gemm(a, a, pendingA, true, false, weight, 1.0);
      Nd4j.gemm(g, g, pendingS, true, false, weight, 1.0);
    }
    tokens += t;
    examples += 1;
    tokenWeight += weight * t;
    exampleWeight += weight;
    return this;
  }

  /**
   * Adds one example given as row-major arrays {@code a [tokens, dIn]} and {@code g [tokens, dOut]}.
   */
  public CovarianceAccumulator add(float[] a, float[] g, int tokens, double weight, String exampleId) {
    if (tokens < 0 || a.length != (long) tokens * dIn || g.length != (long) tokens * dOut) {
      throw new IllegalArgumentException(Checks.where(layer, exampleId) + ": expected " + tokens + "×" + dIn + " a values and "
          + tokens + "×" + dOut + " g values, got " + a.length + " and " + g.length);
    }
    INDArray aa = Nd4j.create(a, new long[] {tokens, dIn}, 'c');
    INDArray gg = Nd4j.create(g, new long[] {tokens, dOut}, 'c');
    return add(new TokenFactors(layer, aa, gg), weight, exampleId);
  }

  /** Adds {@code other}'s sums and counts into this accumulator; {@code other} is left unchanged. */
  public CovarianceAccumulator merge(CovarianceAccumulator other) {
    Objects.requireNonNull(other, "other");
    if (!other.layer.equals(layer) || other.dIn != dIn || other.dOut != dOut) {
      throw new IllegalArgumentException("cannot merge covariances of layer " + other.layer + " [dIn " + other.dIn + ", dOut "
          + other.dOut + "] into layer " + layer + " [dIn " + dIn + ", dOut " + dOut
          + "]. HINT: merge accumulators per layer, built with the same projection sizes.");
    }
    flush();
    other.flush();
    for (int i = 0; i < aSum.length; i++) {
      aSum[i] += other.aSum[i];
    }
    for (int i = 0; i < sSum.length; i++) {
      sSum[i] += other.sSum[i];
    }
    tokens += other.tokens;
    examples += other.examples;
    tokenWeight += other.tokenWeight;
    exampleWeight += other.exampleWeight;
    return this;
  }

  /** Normalises by the weighted token count and symmetrises; the accumulator stays usable. */
  public Covariances finish() {
    flush();
    if (!(tokenWeight > 0)) {
      throw new IllegalStateException("layer " + layer + ": no tokens with positive weight were added ("
          + examples + " examples). HINT: check that the layer's token mask selects at least one position.");
    }
    return new Covariances(layer, dIn, dOut, symmetrised(aSum, dIn, tokenWeight), symmetrised(sSum, dOut, tokenWeight),
        tokens, examples, tokenWeight, exampleWeight);
  }

  private static double[] symmetrised(double[] sum, int n, double divisor) {
    double[] out = new double[sum.length];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        out[i * n + j] = 0.5 * (sum[i * n + j] + sum[j * n + i]) / divisor;
      }
    }
    return out;
  }

  private void flush() {
    if (pendingA == null) {
      return;
    }
    addInto(aSum, pendingA);
    addInto(sSum, pendingS);
  }

  private static void addInto(double[] sum, INDArray pending) {
    double[] p = pending.data().asDouble(); // 'f' order: column-major, the layout of sum
    for (int i = 0; i < sum.length; i++) {
      sum[i] += p[i];
    }
    pending.assign(0.0);
  }

  private void writeObject(ObjectOutputStream out) throws IOException {
    flush();
    out.defaultWriteObject();
  }
}
