package io.influence.spark.config;

/**
 * The influence methods a stage can be asked for ({@code score.method}, {@code self-influence.method},
 * {@code quickstart.methods}). What each one needs and computes is said by its type in
 * {@code io.influence.spark.method}; this enum is only the word in the settings.
 */
public enum Method {
  /** TracInCP: {@code Σ_i η_i ⟨g_q,i, g_i⟩} over the checkpoints. */
  TRACIN,
  /** Influence function with EK-FAC's {@code (H + λI)⁻¹} (factors from fit-ekfac). */
  EKFAC,
  /** Influence function with {@code (H + λI)⁻¹ g_q} solved by conjugate gradients over the corpus. */
  CG,
  /** Influence function with {@code (H + λI)⁻¹ g_q} solved by LiSSA over the corpus. */
  LISSA,
  /**
   * SGD-influence (Hara et al. 2019): the recorded plain-SGD run replayed backwards with HVPs; needs the run's
   * training log, no gradient store (score stage only; {@code io.influence.spark.sgdinfluence.SgdInfluenceJob}).
   */
  SGD_INFLUENCE,
  /** Data Shapley by truncated Monte Carlo over permutations, fine-tuning on coalitions (the shapley block). */
  TMC_SHAPLEY,
  /** Data Shapley by one epoch of per-player gradient steps per permutation (the shapley block). */
  G_SHAPLEY,
  /**
   * Representer points (Yeh et al. 2018): the output head fine-tuned with L2 to a stationary point, each training
   * sequence scored by its tokens' share {@code Σ α_s[y_t] (f_s · f_t)} of the query's target logits (see
   * io.influence.spark.representer). Reads no gradient store; score stage only.
   */
  REPRESENTER;

  /** The word in settings and outputs ({@code "tracin"}, ...). */
  public String word() {
    return Choices.word(this);
  }

  /** CG or LiSSA: solved from curvature-vector products over the corpus. */
  public boolean iterative() {
    return this == CG || this == LISSA;
  }

  /** TMC- or G-Shapley: values by retraining on subsets, not from stored gradients (io.influence.spark.shapley). */
  public boolean retrains() {
    return this == TMC_SHAPLEY || this == G_SHAPLEY;
  }
}
