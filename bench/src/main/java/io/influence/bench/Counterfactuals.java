package io.influence.bench;

import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.ModelConfig;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.model.CausalLm;
import io.influence.core.model.TokenBatch;
import io.influence.core.tokenizer.PromptCompletion;
import io.influence.core.tokenizer.Tokenizer;
import io.influence.core.train.Initialization;
import io.influence.core.train.Trainer;
import io.influence.spark.io.Queries;
import io.influence.spark.train.TrainJob;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.function.Consumer;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The retraining truths of a run written by {@link TrainJob}: the same model, initialisation seed, batch-order seed and
 * optimizer settings ({@code TrainSettings#trainer}) on the run's own token sequences (its tokenizer, corpus order),
 * and each query's summed completion loss (the loss the score stage attributes, {@link PromptCompletion}'s mask)
 * under the retrained models, in float64.
 *
 * <ul>
 *   <li>{@link #leaveOneOut}: for every training sequence, the change of every query's loss when the run is repeated
 *       without it ({@link Trainer#trainWithout}: same seed and batch order, its terms dropped from the batches it
 *       was drawn into), against the run's last checkpoint;</li>
 *   <li>{@link #subsets}: the query losses of models trained from scratch (same seeds and steps) on random subsets,
 *       the truth of the linear datamodeling score.</li>
 * </ul>
 */
final class Counterfactuals {

  private final List<int[]> sequences;
  private final ModelConfig config;
  private final Trainer.Settings settings;
  private final long initSeed;
  private final TokenBatch queries;
  private final double[] base;

  /** Query losses [query][sequence or subset], and the subsets kept. */
  record Subsets(boolean[][] kept, double[][] losses) {}

  private Counterfactuals(List<int[]> sequences, ModelConfig config, Trainer.Settings settings, long initSeed,
                          TokenBatch queries, double[] base) {
    this.sequences = sequences;
    this.config = config;
    this.settings = settings;
    this.initSeed = initSeed;
    this.queries = queries;
    this.base = base;
  }

  /**
   * The truths of {@code trained}, whose corpus texts are {@code texts} in corpus order (each must fit the context:
   * the retraining needs one sequence per text, as the run had).
   */
  static Counterfactuals of(TrainJob.Result trained, io.influence.spark.config.TrainSettings train, List<String> texts,
                            List<Queries.Query> queryList) {
    try {
      Tokenizer tokenizer = Tokenizer.fromTokenizerJson(trained.tokenizerJson());
      List<int[]> sequences = new ArrayList<>();
      for (int i = 0; i < texts.size(); i++) {
        int[] ids = tokenizer.encodeDocument(texts.get(i));
        if (ids.length > train.context() || ids.length < 2) {
          throw new IllegalArgumentException("text " + (i + 1) + " of the compare corpus has " + ids.length
              + " tokens; the retraining truths need every text to be one training sequence of 2.." + train.context()
              + " tokens. HINT: raise -P set.train.context or lower the corpus' max characters");
        }
        sequences.add(ids);
      }
      if (sequences.size() != trained.sequences()) {
        throw new IllegalStateException("the run trained on " + trained.sequences() + " sequences, the corpus has "
            + sequences.size() + " texts");
      }
      ModelConfig config = train.modelConfig(tokenizer.vocabSize());
      int[][] tokens = new int[queryList.size()][];
      int[][] masks = new int[queryList.size()][];
      for (int q = 0; q < tokens.length; q++) {
        Queries.Query query = queryList.get(q);
        PromptCompletion e = PromptCompletion.encode(tokenizer, query.id(), query.prompt(), query.completion(),
            config.maxPositions());
        tokens[q] = e.tokens();
        masks[q] = e.lossMask();
      }
      TokenBatch queries = new TokenBatch(tokens, masks);
      List<RunCheckpoint> cps = trained.run().checkpoints();
      CausalLm last = CausalLm.load(cps.get(cps.size() - 1).dir(), DataType.FLOAT);
      double[] base = last.withDataType(DataType.DOUBLE).losses(queries);
      return new Counterfactuals(sequences, config, train.trainer(), train.seed(), queries, base);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the run's tokenizer " + trained.tokenizerJson() + ": "
          + e.getMessage(), e);
    } catch (CheckpointFormatException e) {
      throw new IllegalStateException("the run's last checkpoint is unreadable: " + e.getMessage(), e);
    }
  }

  /** The run's training sequences, in corpus order. */
  List<int[]> sequences() {
    return sequences;
  }

  /** Each query's loss under the run's last checkpoint. */
  double[] base() {
    return base.clone();
  }

  /** {@code [query][sequence]}: query loss without the sequence minus the run's. {@code n} retrainings. */
  double[][] leaveOneOut(Consumer<String> log) {
    int n = sequences.size();
    double[][] change = new double[base.length][n];
    for (int j = 0; j < n; j++) {
      CausalLm model = Initialization.of(config, initSeed, DataType.FLOAT);
      Trainer.trainWithout(model, sequences, settings, j);
      double[] losses = model.withDataType(DataType.DOUBLE).losses(queries);
      for (int q = 0; q < base.length; q++) {
        change[q][j] = losses[q] - base[q];
      }
      if ((j + 1) % 10 == 0 || j + 1 == n) {
        log.accept("leave-one-out: " + (j + 1) + "/" + n + " retrained");
      }
    }
    return change;
  }

  /**
   * {@code models} models trained from scratch (same seeds and steps as the run) each on a uniformly random
   * {@code kept} of the sequences (seeded by {@code random}); scratch runs go under {@code dir}.
   */
  Subsets subsets(int models, int kept, Random random, Path dir, Consumer<String> log) {
    int n = sequences.size();
    boolean[][] keep = new boolean[models][];
    double[][] losses = new double[base.length][models];
    for (int m = 0; m < models; m++) {
      keep[m] = LeaveOneOutTask.subset(random, n, kept);
      List<int[]> subset = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        if (keep[m][i]) {
          subset.add(sequences.get(i));
        }
      }
      CausalLm model = Initialization.of(config, initSeed, DataType.FLOAT);
      Trainer.train(model, subset, settings, dir.resolve("subset-" + m), Optional.empty(), step -> { });
      double[] l = model.withDataType(DataType.DOUBLE).losses(queries);
      for (int q = 0; q < base.length; q++) {
        losses[q][m] = l[q];
      }
      log.accept("lds: subset model " + (m + 1) + "/" + models + " trained");
    }
    return new Subsets(keep, losses);
  }
}
