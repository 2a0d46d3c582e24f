package io.influence.spark.config;

import com.typesafe.config.Config;
import java.util.Optional;
import java.util.OptionalDouble;

/**
 * The {@code influence.input} block: what the pipeline reads. Locations are kept as the user wrote them (a local
 * path, or a URI such as {@code hdfs://} or {@code s3a://}) and resolved against the file system when a stage runs.
 *
 * @param corpus               training corpus (Parquet, JSON Lines or a Hugging Face datasets folder)
 * @param queries              queries (JSON Lines or Parquet with id, prompt, completion)
 * @param run                  training run folder (our manifest or a Hugging Face Trainer folder)
 * @param constantLearningRate learning rate of every checkpoint when the run records none
 * @param badRows              what to do with rows that cannot be used
 * @param longText             what train and the corpus stages do with texts longer than the model's context
 */
public record InputSettings(Optional<String> corpus, Optional<String> queries, Optional<String> run,
                            OptionalDouble constantLearningRate, BadRows badRows, LongText longText) {

  static InputSettings from(Config c) {
    OptionalDouble rate = c.getIsNull("input.constant-learning-rate") ? OptionalDouble.empty()
        : OptionalDouble.of(c.getDouble("input.constant-learning-rate"));
    if (rate.isPresent() && !(rate.getAsDouble() > 0 && Double.isFinite(rate.getAsDouble()))) {
      throw new IllegalArgumentException("influence.input.constant-learning-rate must be finite and > 0, got "
          + rate.getAsDouble());
    }
    return new InputSettings(path(c, "input.corpus"), path(c, "input.queries"), path(c, "input.run"), rate,
        Choices.parse(BadRows.class, "input.bad-rows", c.getString("input.bad-rows")),
        Choices.parse(LongText.class, LongText.KEY, c.getString(LongText.KEY)));
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
  public String corpus(String stage) {
    return required(corpus, "input.corpus", stage);
  }

  /** The queries file, which {@code stage} needs. */
  public String queries(String stage) {
    return required(queries, "input.queries", stage);
  }

  /** The training run folder, which {@code stage} needs. */
  public String run(String stage) {
    return required(run, "input.run", stage);
  }

  private static Optional<String> path(Config c, String key) {
    return c.getIsNull(key) ? Optional.empty() : Optional.of(c.getString(key));
  }

  private static String required(Optional<String> p, String key, String stage) {
    return p.orElseThrow(() -> new IllegalArgumentException("influence." + key + " is required for " + stage
        + ". HINT: set it in your settings file or pass --" + key.substring(key.lastIndexOf('.') + 1)));
  }
}
