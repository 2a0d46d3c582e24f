package io.influence.spark.config;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalDouble;

/**
 * The {@code influence.input} block: what the pipeline reads.
 *
 * @param corpus               training corpus (Parquet, JSON Lines or a Hugging Face datasets folder)
 * @param queries              queries (JSON Lines or Parquet with id, prompt, completion)
 * @param run                  training run folder (our manifest or a Hugging Face Trainer folder)
 * @param constantLearningRate learning rate of every checkpoint when the run records none
 * @param badRows              what to do with rows that cannot be used
 */
public record InputSettings(Optional<Path> corpus, Optional<Path> queries, Optional<Path> run,
                            OptionalDouble constantLearningRate, BadRows badRows) {

  static InputSettings from(Config c) {
    OptionalDouble rate = c.getIsNull("input.constant-learning-rate") ? OptionalDouble.empty()
        : OptionalDouble.of(c.getDouble("input.constant-learning-rate"));
    if (rate.isPresent() && !(rate.getAsDouble() > 0 && Double.isFinite(rate.getAsDouble()))) {
      throw new IllegalArgumentException("influence.input.constant-learning-rate must be finite and > 0, got "
          + rate.getAsDouble());
    }
    return new InputSettings(path(c, "input.corpus"), path(c, "input.queries"), path(c, "input.run"), rate,
        Choices.parse(BadRows.class, "input.bad-rows", c.getString("input.bad-rows")));
  }

  /** Fails naming the first input {@code stage} needs and lacks: the corpus, the run and, if asked, the queries. */
  public void require(String stage, boolean needsQueries) {
    corpus(stage);
    run(stage);
    if (needsQueries) {
      queries(stage);
    }
  }

  /** The corpus, which {@code stage} needs; the error says so and how to give it. */
  public Path corpus(String stage) {
    return required(corpus, "input.corpus", stage);
  }

  /** The queries file, which {@code stage} needs. */
  public Path queries(String stage) {
    return required(queries, "input.queries", stage);
  }

  /** The training run folder, which {@code stage} needs. */
  public Path run(String stage) {
    return required(run, "input.run", stage);
  }

  private static Optional<Path> path(Config c, String key) {
    return c.getIsNull(key) ? Optional.empty() : Optional.of(Path.of(c.getString(key)));
  }

  private static Path required(Optional<Path> p, String key, String stage) {
    return p.orElseThrow(() -> new IllegalArgumentException("influence." + key + " is required for " + stage
        + ". HINT: set it in your settings file or pass --" + key.substring(key.lastIndexOf('.') + 1)));
  }
}
