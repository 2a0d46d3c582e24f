package io.influence.core.score;

import io.influence.core.grad.TokenFactors;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/*
 * Token-wise attribution: a layer's per-example gradient is G = Σ_t g_t a_tᵀ over the sequence's
 * positions t (TokenFactors: a [T, dIn], g [T, dOut]), so its score against a (preconditioned)
 * query matrix Q [dOut, dIn] splits exactly into per-token terms
 *
 *   ⟨Q, G⟩_F = Σ_t g_tᵀ Q a_t,   c_t = g_tᵀ Q a_t = [ rowsum( (g Q) ⊙ a ) ]_t
 *
 * one GEMM [T, dOut]·[dOut, dIn] and a row-wise dot product; G is never formed. The same row-wise
 * dot product serves a rank-r query Q = U Vᵀ as rowsum((g U) ⊙ (a V)) (LowRankQuery). With a
 * Kronecker projection the factors are projected first (KroneckerProjection.projectTokens:
 * P_in a_t, P_out g_t) and Q is the projected query [kOut, kIn].
 *
 * Numerics: perToken works in float64 (factors and Q are cast), so the terms add up to the
 * layer's score to float64 rounding; every term is checked to be finite, and an error names the
 * example, layer and token.
 */
public final class TokenAttribution {

  private TokenAttribution() {}

  /**
   * The per-token terms {@code c_t = g_tᵀ Q a_t} of {@code ⟨Q, Σ_t g_t a_tᵀ⟩}, float64, length T. {@code query} is
   * {@code [dOut, dIn]} of the factors' layer (projected sizes when the factors are projected).
   */
  public static double[] perToken(String exampleId, TokenFactors factors, INDArray query) {
    if (query.rank() != 2 || query.rows() != factors.dOut() || query.columns() != factors.dIn()) {
      throw new IllegalArgumentException("example '" + exampleId + "', layer '" + factors.layer() + "': token factors"
          + " give a [" + factors.dOut() + ", " + factors.dIn() + "] gradient but the query is "
          + Arrays.toString(query.shape()) + ". HINT: project the factors with the store's projection first.");
    }
    INDArray g = factors.g().castTo(DataType.DOUBLE);
    INDArray a = factors.a().castTo(DataType.DOUBLE);
    return rowDots(exampleId, factors.layer(), g.mmul(query.castTo(DataType.DOUBLE)), a);
  }

  /**
   * {@code rowsum(x ⊙ y)}: one dot product per token row of two {@code [T, r]} arrays, as float64, each checked to
   * be finite. Overwrites {@code x} with {@code x ⊙ y}.
   */
  public static double[] rowDots(String exampleId, String layer, INDArray x, INDArray y) {
    if (x.rank() != 2 || !Arrays.equals(x.shape(), y.shape())) {
      throw new IllegalArgumentException("example '" + exampleId + "', layer '" + layer + "': token rows "
          + Arrays.toString(x.shape()) + " and " + Arrays.toString(y.shape()) + " do not match");
    }
    double[] c = x.muli(y).sum(1).toDoubleVector();
    for (int t = 0; t < c.length; t++) {
      if (!Double.isFinite(c[t])) {
        throw new IllegalArgumentException("example '" + exampleId + "', layer '" + layer + "': token " + t
            + " contributes " + c[t] + ". HINT: its token factors hold NaN/Inf; re-extract the example.");
      }
    }
    return c;
  }
}
