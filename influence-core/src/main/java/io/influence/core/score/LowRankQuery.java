package io.influence.core.score;

import io.influence.core.grad.TokenFactors;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.eigen.Eigen;
import org.nd4j.linalg.factory.Nd4j;

/*
 * A preconditioned query gradient kept per layer as a rank-r factorisation Q_l ≈ U_l V_lᵀ,
 * U_l [dOut, r], V_l [dIn, r], and the scoring of a training example straight from its token
 * factors (a [T, dIn], g [T, dOut]) without forming G = gᵀ a:
 *
 *   ⟨U Vᵀ, gᵀ a⟩_F = Σ_k Σ_t (u_kᵀ g_t)(v_kᵀ a_t) = Σ_t [ rowsum( (g U) ⊙ (a V) ) ]_t
 *
 * two GEMMs [T, dOut]×[dOut, r] and [T, dIn]×[dIn, r] per layer instead of a [dOut, dIn] matrix;
 * the inner row sums are the per-token contributions (token-wise attribution), and they add up
 * to the sequence score.
 *
 * Factorisation (float64): with m = min(dOut, dIn), eigendecompose the smaller Gram matrix
 * (Q Qᵀ if dOut <= dIn, else Qᵀ Q; symmetrised as (M + Mᵀ)/2; LAPACK syev through ND4J) and keep
 * the top-r eigenvectors W. If W spans the left side, U = W and V = Qᵀ W; otherwise V = W and
 * U = Q W. That is the projection of Q onto its top-r singular subspace, i.e. the truncated SVD
 * (Eckart–Young), with the singular values absorbed into the non-orthonormal factor. Because
 * the product is W Wᵀ Q (or Q W Wᵀ), at r = m it reproduces Q exactly up to rounding even where
 * the Gram matrix squares the condition number. Factors are stored in the query's dtype.
 */
public final class LowRankQuery {

  private final List<String> layers;
  private final Map<String, INDArray> u;
  private final Map<String, INDArray> v;

  private LowRankQuery(List<String> layers, Map<String, INDArray> u, Map<String, INDArray> v) {
    this.layers = List.copyOf(layers);
    this.u = Collections.unmodifiableMap(u);
    this.v = Collections.unmodifiableMap(v);
  }

  /**
   * Factorises each layer of a preconditioned query gradient at rank {@code min(rank, dOut, dIn)}.
   * {@code layers} fixes the order; {@code query} must have exactly those layers, finite values.
   */
  public static LowRankQuery of(String queryId, List<String> layers, Map<String, INDArray> query, int rank) {
    if (rank < 1) {
      throw new IllegalArgumentException("rank must be >= 1, got " + rank);
    }
    LayerLayout layout = LayerLayout.ofExample(layers, query);
    layout.toVector(queryId, query); // checks layers, shapes, finiteness
    Map<String, INDArray> us = new LinkedHashMap<>();
    Map<String, INDArray> vs = new LinkedHashMap<>();
    for (String layer : layers) {
      INDArray qIn = query.get(layer);
      INDArray q = qIn.castTo(DataType.DOUBLE).dup('c');
      long dOut = q.rows();
      long dIn = q.columns();
      int r = (int) Math.min(rank, Math.min(dOut, dIn));
      boolean left = dOut <= dIn;
      INDArray gram = left ? Nd4j.gemm(q, q, false, true) : Nd4j.gemm(q, q, true, false);
      gram = gram.add(gram.transpose()).muli(0.5).dup('f');
      INDArray values = Eigen.symmetricGeneralizedEigenvalues(gram, true); // ascending; gram now holds eigenvectors
      int m = (int) gram.rows();
      INDArray w = Nd4j.create(DataType.DOUBLE, new long[] {m, r}, 'f');
      for (int k = 0; k < r; k++) {
        w.putColumn(k, gram.getColumn(m - 1 - k));
      }
      INDArray other = left ? Nd4j.gemm(q, w, true, false) : Nd4j.gemm(q, w, false, false);
      INDArray uk = left ? w : other;
      INDArray vk = left ? other : w;
      if (values.length() != m) {
        throw new IllegalStateException("eigendecomposition of layer '" + layer + "' returned " + values.length()
            + " eigenvalues for a " + m + "x" + m + " matrix");
      }
      us.put(layer, uk.castTo(qIn.dataType()).dup('f'));
      vs.put(layer, vk.castTo(qIn.dataType()).dup('f'));
    }
    return new LowRankQuery(layers, us, vs);
  }

  public List<String> layers() {
    return layers;
  }

  /** Rank kept for a layer. */
  public int rank(String layer) {
    return (int) factor(u, layer).columns();
  }

  /** {@code U} of a layer, {@code [dOut, r]} (orthonormal columns when dOut <= dIn). */
  public INDArray u(String layer) {
    return factor(u, layer);
  }

  /** {@code V} of a layer, {@code [dIn, r]}. */
  public INDArray v(String layer) {
    return factor(v, layer);
  }

  /** The approximation {@code U Vᵀ} of each layer as a dense {@code [dOut, dIn]} matrix (for checks and small layers). */
  public Map<String, INDArray> dense() {
    Map<String, INDArray> out = new LinkedHashMap<>();
    for (String layer : layers) {
      out.put(layer, Nd4j.gemm(u.get(layer), v.get(layer), false, true));
    }
    return out;
  }

  /** Score of one training example: {@code Σ_l ⟨U_l V_lᵀ, G_l⟩}, summed in float64. */
  public double score(String exampleId, List<TokenFactors> example) {
    double s = 0;
    for (double c : tokenContributions(exampleId, example)) {
      s += c;
    }
    return s;
  }

  /** Per-token contributions summed over layers, length T; they add up to {@link #score}. */
  public double[] tokenContributions(String exampleId, List<TokenFactors> example) {
    double[] total = null;
    for (double[] c : tokenContributionsPerLayer(exampleId, example).values()) {
      if (total == null) {
        total = c.clone();
      } else {
        for (int t = 0; t < c.length; t++) {
          total[t] += c[t];
        }
      }
    }
    return total;
  }

  /** Per-layer, per-token contributions {@code rowsum((g U) ⊙ (a V))}, each of length T. */
  public Map<String, double[]> tokenContributionsPerLayer(String exampleId, List<TokenFactors> example) {
    Map<String, TokenFactors> byLayer = new LinkedHashMap<>();
    for (TokenFactors f : example) {
      if (byLayer.put(f.layer(), f) != null) {
        throw new IllegalArgumentException("example '" + exampleId + "': layer '" + f.layer() + "' appears twice");
      }
    }
    if (!byLayer.keySet().equals(u.keySet())) {
      throw new IllegalArgumentException("example '" + exampleId + "' has token factors for " + byLayer.keySet()
          + " but the query was factorised for " + layers + ". HINT: extract both with the same tracked layers.");
    }
    Map<String, double[]> out = new LinkedHashMap<>();
    int tokens = -1;
    for (String layer : layers) {
      TokenFactors f = byLayer.get(layer);
      INDArray uk = u.get(layer);
      INDArray vk = v.get(layer);
      if (f.dOut() != uk.rows() || f.dIn() != vk.rows()) {
        throw new IllegalArgumentException("example '" + exampleId + "', layer '" + layer + "': token factors give a ["
            + f.dOut() + ", " + f.dIn() + "] gradient but the query layer is [" + uk.rows() + ", " + vk.rows()
            + "]. HINT: a bias column must be appended to a on both sides or on neither.");
      }
      if (tokens >= 0 && f.tokens() != tokens) {
        throw new IllegalArgumentException("example '" + exampleId + "', layer '" + layer + "': " + f.tokens()
            + " tokens but other layers have " + tokens);
      }
      tokens = f.tokens();
      DataType dt = f.a().dataType();
      INDArray gu = Nd4j.gemm(f.g(), uk.dataType() == dt ? uk : uk.castTo(dt), false, false);
      INDArray av = Nd4j.gemm(f.a(), vk.dataType() == dt ? vk : vk.castTo(dt), false, false);
      out.put(layer, TokenAttribution.rowDots(exampleId, layer, gu, av));
    }
    return out;
  }

  private INDArray factor(Map<String, INDArray> m, String layer) {
    INDArray a = m.get(layer);
    if (a == null) {
      throw new IllegalArgumentException("unknown layer '" + layer + "'; the query has " + layers);
    }
    return a;
  }

  @Override
  public String toString() {
    StringBuilder b = new StringBuilder("LowRankQuery[");
    for (String layer : layers) {
      b.append(layer).append(" rank ").append(rank(layer)).append(' ').append(Arrays.toString(u.get(layer).shape()))
          .append("x").append(Arrays.toString(v.get(layer).shape())).append("ᵀ; ");
    }
    return b.append(']').toString();
  }
}
