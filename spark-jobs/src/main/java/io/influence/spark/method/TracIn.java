package io.influence.spark.method;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.grad.Preconditioner;
import io.influence.spark.config.Method;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;
import org.apache.spark.sql.SparkSession;

/**
 * TracInCP (Pruthi et al. 2020): {@code Σ_i η_i ⟨g_q,i, g_i⟩} over every extracted checkpoint, weighted by its
 * learning rate; no preconditioner, no factors, no corpus pass.
 */
public final class TracIn implements InfluenceMethod {

  TracIn() {}

  @Override
  public Method name() {
    return Method.TRACIN;
  }

  @Override
  public boolean needsFactors() {
    return false;
  }

  @Override
  public boolean needsCorpusProducts() {
    return false;
  }

  @Override
  public List<String> settingsBlocks() {
    return List.of();
  }

  @Override
  public List<String> checkpoints(List<String> extracted) {
    return List.copyOf(extracted);
  }

  @Override
  public double weight(double learningRate) {
    return learningRate;
  }

  @Override
  public Optional<io.influence.ekfac.Damping> damping() {
    return Optional.empty();
  }

  @Override
  public Preconditioned precondition(SparkSession spark, ScoringInputs in, List<RunCheckpoint> checkpoints) {
    return StoreSpaceQueries.collect(spark, in, checkpoints, meta -> UnaryOperator.identity());
  }

  @Override
  public Optional<Preconditioner.PerCheckpoint> selfPreconditioner(SparkSession spark, ScoringInputs in,
      List<String> checkpoints) {
    return Optional.empty();
  }
}
