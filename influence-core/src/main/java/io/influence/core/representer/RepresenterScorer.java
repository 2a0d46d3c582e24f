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
    for (INDArray a : new INDArray[] {probs, dots, f}) {
      if (a.closeable()) {
        a.close();   // n × V off-heap doubles: not left to the garbage collector
      }
    }
    int vocab = head.vocab();
    int[] yq = queries.targets();
    int[] sq = queries.sequence();
    int[] ys = block.targets();
    int[] seq = block.sequence();
    double scale = head.scale();
    for (int s = 0; s < m; s++) {
      if (seq[s] < 0 || seq[s] >= sequences) {
        throw new IllegalArgumentException("sequence index " + seq[s] + " outside [0, " + sequences + ")");
      }
      double[] row = out[seq[s]];
      for (int t = 0; t < k; t++) {
        double alpha = scale * (p[s * vocab + yq[t]] - (ys[s] == yq[t] ? 1 : 0));
        row[sq[t]] += alpha * g[s * k + t];
      }
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
}
