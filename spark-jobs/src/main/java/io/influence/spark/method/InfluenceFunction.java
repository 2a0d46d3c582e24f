package io.influence.spark.method;

import io.influence.ekfac.Damping;
import io.influence.spark.config.CheckpointSelection;
import java.util.List;
import java.util.Optional;

/**
 * What the influence-function methods share (Koh and Liang 2017): {@code ⟨(H_i + λI)⁻¹ g_q,i, g_i⟩} at the chosen
 * checkpoints (the last one, the classic influence function of the final model, or all of them), each weighted 1,
 * with a damping λ recorded in the scores.
 */
abstract sealed class InfluenceFunction implements InfluenceMethod permits EkfacInfluence, IterativeInfluence {

  private final CheckpointSelection checkpoints;
  private final Damping damping;

  InfluenceFunction(CheckpointSelection checkpoints, Damping damping) {
    this.checkpoints = checkpoints;
    this.damping = damping;
  }

  @Override
  public final List<String> checkpoints(List<String> extracted) {
    return checkpoints.select(extracted);
  }

  @Override
  public final double weight(double learningRate) {
    return 1.0;
  }

  @Override
  public final Optional<Damping> damping() {
    return Optional.of(damping);
  }
}
