package io.influence.core.representer;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Representer scores of training sequences for queries:
 * <pre>  score(q, z) = Σ_{s ∈ z} Σ_{t ∈ q} α_s[y_t] (f_s · f_t)</pre>
 * over the training sequence's predicted tokens {@code s} and the query's predicted (completion) tokens {@code t}
 * with targets {@code y_t}: the contribution of {@code z}'s tokens to the fitted head's logits of the query's
 * targets, {@code Σ_t (W* f_t)[y_t] = Σ_z score(q, z)} (the representer theorem, {@link RepresenterHead}). Positive
 * = the sequence raises the logits of what the query completes with (a proponent, the sign of the other methods:
 * positive is helpful); negative = an opponent.
 *
 * <p>Factorised: {@code Σ_s α_s f_sᵀ} is a {@code [V, d]} matrix per sequence, never formed. Per block of training
 * tokens, one GEMM {@code F_z W*ᵀ} gives the softmax (hence {@code α_s}, of which only the query targets' columns
 * are read), one GEMM {@code G = F_z F_qᵀ} (tokens × tokens) the dot products, and the score is
 * {@code Σ G ∘ A} summed per (sequence, query), {@code A[s, t] = α_s[y_t]}. Float64.
 */
public final class RepresenterScorer {

  private final RepresenterHead head;
  private final INDArray w;
  private final TokenFeatures queries;
  private final INDArray queryMatrixT;
  private final int queryCount;

  /** Scores against {@code queries}' tokens ({@code sequence()} = query index, {@code queryCount} queries). */
  public RepresenterScorer(RepresenterHead head, TokenFeatures queries, int queryCount) {
    if (queries.dim() != head.dim()) {
      throw new IllegalArgumentException("query features have width " + queries.dim() + ", the head " + head.dim());
    }
    for (int s : queries.sequence()) {
      if (s < 0 || s >= queryCount) {
        throw new IllegalArgumentException("query index " + s + " outside [0, " + queryCount + ")");
      }
    }
    this.head = head;
    this.w = head.matrix();
    this.queries = queries;
    this.queryMatrixT = queries.matrix().transpose().dup('f');
    this.queryCount = queryCount;
  }

  public int queryCount() {
    return queryCount;
  }

  /**
   * Scores of {@code block}'s sequences: {@code out[i][q]} for {@code block.sequence() = i} in
   * {@code [0, sequences)}, {@code q} a query index.
   */
  public double[][] scores(TokenFeatures block, int sequences) {
    double[][] out = new double[sequences][queryCount];
    int m = block.size();
    int k = queries.size();
    if (m == 0 || k == 0) {
      return out;
    }
    INDArray f = block.matrix();
    INDArray probs = head.probabilities(f, w);
    double[] p = probs.dup('c').data().asDouble();   // [m, V]
    INDArray dots = f.mmul(queryMatrixT);
    double[] g = dots.dup('c').data().asDouble();  // [m, k] f_s · f_t
    release(probs, dots, f);
    int vocab = head.vocab();
    int[] yq = queries.targets();
    int[] sq = queries.sequence();
    int[] ys = block.targets();
    int[] seq = block.sequence();
    double scale = head.scale();
    for (int s = 0; s < m; s++) {
      double[] row = out[sequenceOf(seq, s, sequences)];
      for (int t = 0; t < k; t++) {
        double alpha = scale * (p[s * vocab + yq[t]] - (ys[s] == yq[t] ? 1 : 0));
        row[sq[t]] += alpha * g[s * k + t];
      }
    }
    return out;
  }

  /**
   * Representer self-influence of {@code block}'s sequences: {@code out[i] = Σ_{s ∈ i} α_s[y_s] ‖f_s‖²}, each of
   * sequence {@code i}'s predicted tokens' own term in the representer decomposition of its fitted target logit
   * ({@code (W* f_s)[y_s] = Σ_u α_u[y_s] (f_u · f_s)}, the {@code u = s} term), taken at the observed label
   * (Yeh et al. 2018's {@code α_i f_iᵀ f_i} with tokens as the training points). Since
   * {@code α_s[y_s] = (1 − p_s[y_s])/(2λn) ≥ 0}, it is non-negative and large for tokens the fitted head predicts
   * poorly with large features. Needs no queries: one GEMM per block for the softmax. Float64.
   */
  public static double[] selfScores(RepresenterHead head, TokenFeatures block, int sequences) {
    double[] out = new double[sequences];
    int m = block.size();
    if (m == 0) {
      return out;
    }
    INDArray f = block.matrix();
    INDArray w = head.matrix();
    INDArray probs = head.probabilities(f, w);
    double[] p = probs.dup('c').data().asDouble();   // [m, V]
    release(probs, f, w);
    int vocab = head.vocab();
    int d = block.dim();
    double[] x = block.features();
    int[] ys = block.targets();
    int[] seq = block.sequence();
    double scale = head.scale();
    for (int s = 0; s < m; s++) {
      int i = sequenceOf(seq, s, sequences);
      double norm2 = 0;
      for (int c = 0; c < d; c++) {
        norm2 += x[s * d + c] * x[s * d + c];
      }
      out[i] += scale * (p[s * vocab + ys[s]] - 1) * norm2;
    }
    return out;
  }

  /**
   * The Frobenius norm of each query's target matrix {@code Q_q = Σ_{t ∈ q} e_{y_t} f_tᵀ} ({@code [V, d]}), the
   * vector a sequence's {@code A_z = Σ_{s ∈ z} α_s f_sᵀ} is scored against: {@code score(q, z) = ⟨A_z, Q_q⟩_F}. So
   * {@code score / norm} is the component of {@code A_z} along the query's direction, as the flag stage normalises
   * every method's scores. {@code ‖Q_q‖² = Σ_{t, t' ∈ q, y_t = y_t'} f_t · f_t'}.
   */
  public double[] queryNorms() {
    double[] sq = new double[queryCount];
    int k = queries.size();
    int d = queries.dim();
    double[] x = queries.features();
    int[] y = queries.targets();
    int[] owner = queries.sequence();
    for (int a = 0; a < k; a++) {
      for (int b = 0; b < k; b++) {
        if (owner[a] == owner[b] && y[a] == y[b]) {
          double dot = 0;
          for (int c = 0; c < d; c++) {
            dot += x[a * d + c] * x[b * d + c];
          }
          sq[owner[a]] += dot;
        }
      }
    }
    double[] out = new double[queryCount];
    for (int q = 0; q < queryCount; q++) {
      out[q] = Math.sqrt(sq[q]);
    }
    return out;
  }

  /**
   * The score of one sequence split over its predicted tokens: {@code out[j][q]} is token {@code j}'s share
   * {@code Σ_{t ∈ q} α_j[y_t] (f_j · f_t)} ({@code sequence}'s tokens in order); the shares of a sequence add up to
   * its {@link #scores score}. For token-level highlighting.
   */
  public double[][] tokenScores(TokenFeatures sequence) {
    int m = sequence.size();
    double[][] out = new double[m][];
    for (int j = 0; j < m; j++) {
      TokenFeatures one = new TokenFeatures(sequence.dim(), sequence.row(j), new int[] {sequence.targets()[j]},
          new int[] {0});
      out[j] = scores(one, 1)[0];
    }
    return out;
  }

  /** Frees arrays that hold off-heap memory (n × V doubles) now instead of leaving them to the garbage collector. */
  private static void release(INDArray... arrays) {
    for (INDArray a : arrays) {
      if (a.closeable()) {
        a.close();
      }
    }
  }

  /** {@code seq[s]}, checked to be a sequence index in {@code [0, sequences)}. */
  private static int sequenceOf(int[] seq, int s, int sequences) {
    if (seq[s] < 0 || seq[s] >= sequences) {
      throw new IllegalArgumentException("sequence index " + seq[s] + " outside [0, " + sequences + ")");
    }
    return seq[s];
  }
}
