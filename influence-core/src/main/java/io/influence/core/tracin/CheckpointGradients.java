package io.influence.core.tracin;

import java.util.List;
import java.util.Objects;

/**
 * The gradients of the query and training examples at one checkpoint, with the learning rate
 * {@code η_i} in effect there. Every checkpoint must list the same ids in the same order.
 */
public record CheckpointGradients(String checkpoint, double learningRate, List<ExampleGradient> queries,
    List<ExampleGradient> train) {

  public CheckpointGradients {
    Objects.requireNonNull(checkpoint, "checkpoint");
    if (!(learningRate > 0) || !Double.isFinite(learningRate)) {
      throw new IllegalArgumentException("checkpoint " + checkpoint + ": learning rate must be finite and > 0, got "
          + learningRate + ". HINT: give each checkpoint the learning rate of the steps it summarises.");
    }
    queries = List.copyOf(queries);
    train = List.copyOf(train);
  }
}
