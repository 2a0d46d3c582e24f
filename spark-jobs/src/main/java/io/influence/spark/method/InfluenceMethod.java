package io.influence.spark.method;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.grad.Preconditioner;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.Method;
import java.util.List;
import java.util.Optional;
import org.apache.spark.sql.SparkSession;

/**
 * An influence method as the pipeline sees it. The score, self-influence and report stages ask it what it needs and
 * let it turn query gradients into the vectors the training gradients are scored against; they never compare its
 * name. The set is closed: {@link TracIn}, {@link EkfacInfluence}, {@link IterativeInfluence} (CG and LiSSA).
 *
 * <p>Every method scores {@code score(q, z) = Σ_i w_i ⟨P_i g_q,i, g_i(z)⟩} over its checkpoints {@code i}, with
 * weight {@code w_i} and preconditioner {@code P_i} (identity for TracIn, {@code (H_i + λI)⁻¹} for influence
 * functions).
 */
public sealed interface InfluenceMethod permits TracIn, InfluenceFunction {

  /** The method the settings name, with the settings it reads. */
  static InfluenceMethod of(Method method, InfluenceSettings settings) {
    return switch (method) {
      case TRACIN -> new TracIn();
      case EKFAC -> new EkfacInfluence(settings.ekfac());
      case CG, LISSA -> new IterativeInfluence(method, settings.ihvp());
      case SGD_INFLUENCE -> throw new IllegalArgumentException("sgd-influence replays the training run instead of "
          + "scoring stored gradients: the score, self-influence and flag stages run it from the run's training log, "
          + "and this command does not offer it (influence plan does not cost it yet). HINT: choose tracin, ekfac, cg "
          + "or lissa here (README, \"SGD-influence\")");
      case TMC_SHAPLEY, G_SHAPLEY -> throw new IllegalArgumentException(method.word() + " values training data by"
          + " retraining, not from stored gradients; HINT: it is offered by score.method (the score stage runs it,"
          + " see the shapley block); use tracin, ekfac, cg or lissa here");
      case REPRESENTER -> throw new IllegalArgumentException("representer points work from the output head's "
          + "features and read no gradient store: the score, self-influence and flag stages run them from the fitted "
          + "head (io.influence.spark.representer), and this command does not offer them (influence plan does not cost"
          + " them yet). HINT: choose tracin, ekfac, cg or lissa here");
    };
  }

  /** The word in the settings and in every output row. */
  Method name();

  /** True when EK-FAC factors must be fitted (fit-ekfac) before this method scores. */
  boolean needsFactors();

  /** True when this method reads the corpus again for curvature-vector products over it. */
  boolean needsCorpusProducts();

  /** The settings blocks, beside the stage's own and {@code input}, that its outputs depend on. */
  List<String> settingsBlocks();

  /** The checkpoints this method uses, out of the extracted ones (ordered by step). */
  List<String> checkpoints(List<String> extracted);

  /** The weight {@code w_i} of a checkpoint trained at {@code learningRate}. */
  double weight(double learningRate);

  /** Provenance: the damping setting (mode and value) of an influence function; TracIn has none. */
  Optional<io.influence.ekfac.Damping> damping();

  /**
   * The query gradients to score with, per query and per checkpoint (in the order of {@code checkpoints}),
   * preconditioned by this method; with the iterative solvers also each query's solver report.
   */
  Preconditioned precondition(SparkSession spark, ScoringInputs in, List<RunCheckpoint> checkpoints);

  /**
   * The preconditioner applied to each training gradient on the executors for self-influence {@code ⟨g, P g⟩};
   * empty for the identity.
   */
  Optional<Preconditioner.PerCheckpoint> selfPreconditioner(SparkSession spark, ScoringInputs in, List<String> checkpoints);
}
