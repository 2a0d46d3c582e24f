package io.influence.spark.config;

import com.typesafe.config.Config;
import java.util.List;

/**
 * The {@code influence.score} block.
 *
 * @param topK      training sequences kept per query, from the top and from the bottom
 * @param blockRows training rows per GEMM block on an executor
 * @param method    the influence method
 * @param folder    the folder under {@code output.dir} the scores go to (a plain name)
 * @param candidates score each query only against its candidates (the {@code candidates} block), not every row
 * @param gradients  raw gradients (inner products), unit-normalised ones (cosines), or auto (per method:
 *                   {@link Gradients#of})
 */
public record ScoreSettings(int topK, int blockRows, Method method, String folder, boolean candidates,
                            Gradients gradients) {

  /** What the scores multiply: the gradients as stored, or each checkpoint's gradient divided by its norm. */
  public enum Gradients {
    /** {@code Σ_i w_i ⟨P_i g_q,i, g_i⟩}. */
    RAW,
    /** {@code Σ_i w_i cos(P_i g_q,i, g_i)} (TrackStar's unit normalisation). */
    UNIT,
    /**
     * The default: {@link #UNIT} for TracIn, {@link #RAW} for the influence-function methods. Measured on the
     * planted-facts bench (README, "Benchmarks"): unit-normalised TracIn puts a planted sequence first for 0.96 of the
     * verbatim and 0.88 of the reworded queries (raw: 0.58 and 0.50), because long, high-gradient-norm sequences no
     * longer crowd the top; for EK-FAC unit normalisation changed nothing measurable (1.00 either way), and raw keeps
     * the influence function's own scale.
     */
    AUTO;

    /** The choice in force for {@code method}: this one, or with {@link #AUTO} the method's default. */
    public Gradients of(Method method) {
      if (this != AUTO) {
        return this;
      }
      return method == Method.TRACIN ? UNIT : RAW;
    }
  }

  /** The gradients the scores of this block's method use ({@link Gradients#of}). */
  public Gradients gradientsInForce() {
    return gradients.of(method);
  }

  /** Scores every query against every row, with raw gradients. */
  public ScoreSettings(int topK, int blockRows, Method method, String folder) {
    this(topK, blockRows, method, folder, false, Gradients.RAW);
  }

  /** Raw gradients. */
  public ScoreSettings(int topK, int blockRows, Method method, String folder, boolean candidates) {
    this(topK, blockRows, method, folder, candidates, Gradients.RAW);
  }

  /** Folder names the other stages own. */
  public static final List<String> RESERVED = List.of("gradients", "factors", "self-influence", "report", "representer");

  public ScoreSettings {
    if (topK < 1) {
      throw new IllegalArgumentException("influence.score.top-k must be >= 1, got " + topK);
    }
    if (blockRows < 1) {
      throw new IllegalArgumentException("influence.score.block-rows must be >= 1, got " + blockRows);
    }
    if (!folder.matches("[A-Za-z0-9][A-Za-z0-9._-]*") || RESERVED.contains(folder)) {
      throw new IllegalArgumentException("influence.score.folder = \"" + folder + "\" must be a plain folder name "
          + "(letters, digits, . _ -) other than " + String.join(", ", RESERVED) + ". HINT: e.g. scores-ekfac");
    }
  }

  static ScoreSettings from(Config c) {
    return new ScoreSettings(c.getInt("score.top-k"), c.getInt("score.block-rows"),
        Choices.parse(Method.class, "score.method", c.getString("score.method")), c.getString("score.folder"),
        c.getBoolean("score.candidates"), Choices.parse(Gradients.class, "score.gradients",
        c.getString("score.gradients")));
  }

  /** This block with another method and folder (the quickstart scores several methods side by side). */
  public ScoreSettings with(Method m, String f) {
    return new ScoreSettings(topK, blockRows, m, f, candidates, gradients);
  }
}
