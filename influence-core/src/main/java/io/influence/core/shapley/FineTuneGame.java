package io.influence.core.shapley;

import io.influence.core.model.BatchGradients;
import io.influence.core.model.CausalLm;
import io.influence.core.model.GradientRequest;
import io.influence.core.model.TokenBatch;
import io.influence.core.train.Optimizer;
import io.influence.core.train.Trainer;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The language-model game: the utility of a coalition of players (training sequences, or groups of them) is,
 * for each query, the negative summed loss of the query's completion tokens under the model fine-tuned from a
 * checkpoint on the coalition's sequences. The empty coalition's model is the checkpoint itself.
 *
 * <p>Fine-tuning is seeded and fixed ({@link Settings}): {@code steps} updates, each on {@code batchSize}
 * sequences drawn from a seeded permutation of the coalition's sequences (a new permutation when one runs out,
 * as {@link io.influence.core.train.Trainer} draws them), the gradient of the mean token loss of the batch, SGD
 * or AdamW at a constant rate. Sequences are taken in player order, so the utility is a set function.
 *
 * <p>As a {@link Stepwise} game (G-Shapley) the learner starts at the checkpoint and a player's step is one
 * update on all of that player's sequences.
 *
 * <p>Holds one private copy of the model (the weights are reset from the checkpoint's before each coalition):
 * not thread-safe, one game per thread.
 */
public final class FineTuneGame implements Utility, Stepwise {

  /** The optimizer of the fine-tuning. */
  public enum OptimizerKind { SGD, ADAMW }

  /**
   * How each coalition is fine-tuned.
   *
   * @param optimizer SGD or AdamW (betas 0.9, 0.95; ε 1e-8; no weight decay)
   * @param learningRate the constant rate
   * @param steps updates per retraining
   * @param batchSize sequences per update (fewer when the coalition has fewer)
   * @param seed the batch order
   */
  public record Settings(OptimizerKind optimizer, double learningRate, int steps, int batchSize, long seed)
      implements Serializable {
    public Settings {
      if (optimizer == null) {
        throw new IllegalArgumentException("optimizer is required (SGD or ADAMW)");
      }
      if (!(learningRate > 0) || !Double.isFinite(learningRate)) {
        throw new IllegalArgumentException("fine-tune learning rate must be finite and > 0, got " + learningRate);
      }
      if (steps < 1 || batchSize < 1) {
        throw new IllegalArgumentException("fine-tune steps and batch size must be >= 1, got " + steps + ", "
            + batchSize);
      }
    }

    Optimizer newOptimizer() {
      return optimizer == OptimizerKind.SGD ? Optimizer.sgd(0) : Optimizer.adamW(0.9, 0.95, 1e-8, 0);
    }
  }

  private final CausalLm model;
  private final Map<String, INDArray> start;
  private final Map<String, INDArray> views;
  private final List<int[][]> players;
  private final TokenBatch queries;
  private final Settings settings;

  /**
   * @param checkpoint the model to fine-tune from (copied; not modified)
   * @param players each player's token sequences (each 2..context tokens)
   * @param queries prompt + completion with the completion's loss mask, one target each
   */
  public FineTuneGame(CausalLm checkpoint, List<int[][]> players, TokenBatch queries, Settings settings) {
    if (players.isEmpty()) {
      throw new IllegalArgumentException("a Shapley game needs at least one player");
    }
    int context = checkpoint.config().maxPositions();
    for (int p = 0; p < players.size(); p++) {
      if (players.get(p).length == 0) {
        throw new IllegalArgumentException("player " + p + " has no sequences");
      }
      for (int[] s : players.get(p)) {
        if (s.length < 2 || s.length > context) {
          throw new IllegalArgumentException("player " + p + " has a sequence of " + s.length + " tokens; fine-tuning"
              + " needs 2.." + context);
        }
      }
    }
    this.model = CausalLm.fromTensors(checkpoint.config(), checkpoint.parameters(), checkpoint.dataType());
    this.start = model.parameters();
    this.views = model.parameterViews();
    this.players = List.copyOf(players);
    this.queries = queries;
    this.settings = settings;
  }

  @Override
  public int players() {
    return players.size();
  }

  @Override
  public int targets() {
    return queries.size();
  }

  @Override
  public double[] value(int[] members) {
    reset();
    if (members.length > 0) {
      int[] sorted = members.clone();
      Arrays.sort(sorted);
      List<int[]> corpus = new ArrayList<>();
      for (int p : sorted) {
        corpus.addAll(Arrays.asList(players.get(p)));
      }
      Optimizer optimizer = settings.newOptimizer();
      Random random = new Random(settings.seed());
      int[] order = Trainer.permutation(corpus.size(), random);
      int cursor = 0;
      for (int step = 1; step <= settings.steps(); step++) {
        int n = Math.min(settings.batchSize(), corpus.size());
        int[][] batch = new int[n][];
        for (int b = 0; b < n; b++) {
          if (cursor == order.length) {
            order = Trainer.permutation(corpus.size(), random);
            cursor = 0;
          }
          batch[b] = corpus.get(order[cursor++]);
        }
        update(optimizer, batch, step);
      }
    }
    return utility();
  }

  @Override
  public Learner start() {
    reset();
    Optimizer optimizer = settings.newOptimizer();
    return new Learner() {
      private int step;

      @Override
      public void step(int player) {
        update(optimizer, players.get(player), ++step);
      }

      @Override
      public double[] utility() {
        return FineTuneGame.this.utility();
      }
    };
  }

  /** One update on the mean token loss of {@code batch} at the settings' rate. */
  private void update(Optimizer optimizer, int[][] batch, int step) {
    BatchGradients g = model.gradients(TokenBatch.of(batch), GradientRequest.allParameters());
    long tokens = 0;
    for (int[] s : batch) {
      tokens += s.length - 1;
    }
    Map<String, INDArray> grads = g.parameterGradients();
    for (INDArray x : grads.values()) {
      x.divi(tokens);
    }
    optimizer.update(views, grads, settings.learningRate(), step);
  }

  /** {@code −L(query)} per query under the current weights (completion tokens only). */
  private double[] utility() {
    double[] losses = model.losses(queries);
    double[] u = new double[losses.length];
    for (int q = 0; q < u.length; q++) {
      if (!Double.isFinite(losses[q])) {
        throw new IllegalStateException("fine-tuning diverged: query " + q + " has loss " + losses[q]
            + ". HINT: lower shapley.fine-tune.learning-rate");
      }
      u[q] = -losses[q];
    }
    return u;
  }

  private void reset() {
    for (Map.Entry<String, INDArray> e : views.entrySet()) {
      e.getValue().assign(start.get(e.getKey()));
    }
  }
}
