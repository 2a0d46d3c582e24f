package io.influence.core.sgdinfluence;

import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.checkpoints.TrainingLog;
import io.influence.checkpoints.TrainingLogs;
import io.influence.checkpoints.TrainingRuns;
import io.influence.core.model.CausalLm;
import io.influence.core.model.GradientRequest;
import io.influence.core.model.TokenBatch;
import io.influence.core.train.Optimizer;
import io.influence.core.train.Trainer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/*
 * A language-model training run made replayable for SGD-influence: the run's training log
 * (TrainingLogs), its initial parameters, and its corpus in training order.
 *
 * Forward replay: from initial/ (float32, as trained) every logged step is re-applied with the
 * trainer's own arithmetic (Trainer.replayStep), keeping θ_0..θ_{T−1} in memory as float64 copies
 * of the float32 values (p·T·8 bytes: meant for small models; recomputing segments from saved
 * states is not implemented). The replayed θ_T is compared with the run's checkpoint at step T; a
 * difference beyond 1e-6 of max|θ| (a different corpus or order, a changed checkpoint) is refused.
 *
 * Backward pass (the ReplayModel): a float64 copy of the model over all its parameters (every
 * tensor parameterViews() lists, in that order, each row-major), since SGD moves every parameter.
 * Per-example gradients are one float64 backward pass each; Hessian-vector products of the batch's
 * summed loss are central differences of exact float64 gradients, as HessianOperator does for
 * tracked layers: H v ≈ (∇(θ+εv) − ∇(θ−εv))/2ε with ε‖v‖ = 1e-5·max(‖θ‖, 1) (the error analysis
 * on HessianOperator applies unchanged: about 1e-8 of ‖Hv‖ on the tests' GPT-2).
 */
public final class LmReplay implements ReplayModel {

  private static final double RELATIVE_STEP = 1e-5;
  private static final double REPLAY_TOLERANCE = 1e-6;

  private final TrainingLog log;
  private final List<int[]> corpus;
  private final CausalLm model;                 // float64
  private final Map<String, INDArray> views;
  private final List<double[]> trajectory;      // θ_0..θ_{T−1}
  private final double[] finalParameters;       // θ_T
  private final double replayError;
  private final int dim;
  private double[] current;

  private LmReplay(TrainingLog log, List<int[]> corpus, CausalLm model64, List<double[]> trajectory,
                   double[] finalParameters, double replayError) {
    this.log = log;
    this.corpus = List.copyOf(corpus);
    this.model = model64;
    this.views = model64.parameterViews();
    this.trajectory = trajectory;
    this.finalParameters = finalParameters;
    this.replayError = replayError;
    this.dim = finalParameters.length;
    setParameters(finalParameters);
  }

  /**
   * Replays the run in {@code runDir} on {@code corpus} (the training sequences in the order the
   * trainer was given them: the log's indices point into it).
   *
   * @throws CheckpointFormatException for a missing or invalid log, initial state or checkpoint
   * @throws IllegalArgumentException  when the run is not plain SGD, the corpus does not fit the
   *                                   log, or the replay does not reproduce the last checkpoint
   */
  public static LmReplay open(Path runDir, List<int[]> corpus) throws CheckpointFormatException {
    Path file = runDir.resolve(TrainingLogs.FILE);
    TrainingLog log = TrainingLogs.read(runDir);
    SgdInfluence.requirePlainSgd(log, file);
    if (corpus.size() != log.corpusSize()) {
      throw new IllegalArgumentException(file + " records a corpus of " + log.corpusSize() + " sequences but "
          + corpus.size() + " were given. HINT: pass the training corpus exactly as the run was trained on it.");
    }
    int steps = log.steps().size();
    RunCheckpoint last = null;
    for (RunCheckpoint c : TrainingRuns.read(runDir, OptionalDouble.empty()).checkpoints()) {
      if (c.step() == steps) {
        last = c;
      }
    }
    if (last == null) {
      throw new IllegalArgumentException(file + " records " + steps + " steps but the run has no checkpoint at step "
          + steps + ", so the replay cannot be verified. HINT: the run was interrupted; retrain it to the end.");
    }
    CausalLm model = CausalLm.load(TrainingLogs.initialState(runDir), DataType.FLOAT);
    Optimizer sgd = Optimizer.sgd(0);
    List<double[]> trajectory = new ArrayList<>(steps);
    for (TrainingLog.Step step : log.steps()) {
      trajectory.add(flatten(model.parameterViews()));
      Trainer.replayStep(model, corpus, step, sgd);
    }
    double[] replayed = flatten(model.parameterViews());
    double[] saved = flatten(CausalLm.load(last.dir(), DataType.FLOAT).parameterViews());
    double error = 0;
    double scale = 0;
    for (int i = 0; i < replayed.length; i++) {
      error = Math.max(error, Math.abs(replayed[i] - saved[i]));
      scale = Math.max(scale, Math.abs(saved[i]));
    }
    if (error > REPLAY_TOLERANCE * Math.max(scale, 1)) {
      throw new IllegalArgumentException("replaying " + file + " from its initial parameters does not reproduce "
          + last.dir() + " (largest difference " + error + " of max |θ| " + scale + "). HINT: the corpus given is not"
          + " the one the run was trained on (content or order), or the checkpoint was replaced.");
    }
    return new LmReplay(log, corpus, model.withDataType(DataType.DOUBLE), trajectory, replayed, error);
  }

  public TrainingLog log() {
    return log;
  }

  /** {@code θ_0..θ_{T−1}}, the parameters before each step. */
  public List<double[]> trajectory() {
    return trajectory;
  }

  /** The largest absolute difference between the replayed and the saved final parameters (0 when bit-exact). */
  public double replayError() {
    return replayError;
  }

  /** {@code θ_T} (a copy). */
  public double[] finalParameters() {
    return finalParameters.clone();
  }

  /** The float64 model at the parameters last set. */
  public CausalLm model() {
    return model;
  }

  /** {@code ∇L(θ)} of the summed loss of {@code batch} (its loss mask applied) at the parameters last set. */
  public double[] lossGradient(TokenBatch batch) {
    return flatten(model.gradients(batch, GradientRequest.allParameters()).parameterGradients(), views);
  }

  /**
   * Scores of every training sequence for each query, at the run's final parameters: {@code out[q][j]}
   * estimates the change of query {@code q}'s summed loss when sequence {@code j} is left out of the run
   * (positive = helpful). See {@link SgdInfluence}.
   */
  public double[][] scores(List<TokenBatch> queries) {
    setParameters(finalParameters);
    double[][] g = new double[queries.size()][];
    for (int q = 0; q < g.length; q++) {
      g[q] = lossGradient(queries.get(q));
    }
    return SgdInfluence.queryScores(this, trajectory, log.steps(), g, corpus.size());
  }

  /**
   * Self-influence of training sequences {@code examples} (log indices): the predicted change of each one's own summed
   * loss when it is left out of the run ({@link SgdInfluence#selfScores}); one backward replay per sequence,
   * {@code block} at a time.
   */
  public double[] selfScores(int[] examples, int block) {
    return SgdInfluence.selfScores(this, trajectory, log.steps(), finalParameters, examples, corpus.size(), block);
  }

  /**
   * {@code ∇L(θ_T)} of each batch at the run's final parameters (the vectors {@link #scores} replays), e.g. to
   * normalise scores by their norms.
   */
  public double[][] finalGradients(List<TokenBatch> batches) {
    setParameters(finalParameters);
    double[][] g = new double[batches.size()][];
    for (int q = 0; q < g.length; q++) {
      g[q] = lossGradient(batches.get(q));
    }
    return g;
  }

  @Override
  public int dim() {
    return dim;
  }

  @Override
  public void setParameters(double[] theta) {
    if (theta.length != dim) {
      throw new IllegalArgumentException("θ has length " + theta.length + " but the model has " + dim + " parameters");
    }
    int offset = 0;
    for (INDArray v : views.values()) {
      int n = (int) v.length();
      v.assign(Nd4j.create(java.util.Arrays.copyOfRange(theta, offset, offset + n), v.shape(), 'c'));
      offset += n;
    }
    current = theta.clone();
  }

  @Override
  public double[][] exampleGradients(int[] examples) {
    double[][] out = new double[examples.length][];
    for (int b = 0; b < examples.length; b++) {
      out[b] = lossGradient(TokenBatch.of(corpus.get(examples[b])));
    }
    return out;
  }

  @Override
  public double[][] hessianSums(int[] examples, double[][] vectors) {
    int[][] sequences = new int[examples.length][];
    for (int b = 0; b < examples.length; b++) {
      sequences[b] = corpus.get(examples[b]);
    }
    TokenBatch batch = TokenBatch.of(sequences);
    double norm = Math.sqrt(SgdInfluence.dot(current, current));
    double[] base = current;
    double[][] out = new double[vectors.length][];
    try {
      for (int k = 0; k < vectors.length; k++) {
        double[] v = vectors[k];
        double vn = Math.sqrt(SgdInfluence.dot(v, v));
        out[k] = new double[dim];
        if (vn == 0) {
          continue;
        }
        double eps = RELATIVE_STEP * Math.max(norm, 1) / vn;
        double[] shifted = base.clone();
        SgdInfluence.axpy(eps, v, shifted);
        setParameters(shifted);
        SgdInfluence.axpy(1 / (2 * eps), lossGradient(batch), out[k]);
        shifted = base.clone();
        SgdInfluence.axpy(-eps, v, shifted);
        setParameters(shifted);
        SgdInfluence.axpy(-1 / (2 * eps), lossGradient(batch), out[k]);
      }
    } finally {
      setParameters(base);
    }
    return out;
  }

  private static double[] flatten(Map<String, INDArray> tensors) {
    return flatten(tensors, tensors);
  }

  /** The tensors of {@code values} in the order (and with the names) of {@code order}, each row-major. */
  private static double[] flatten(Map<String, INDArray> values, Map<String, INDArray> order) {
    long n = 0;
    for (INDArray v : order.values()) {
      n += v.length();
    }
    double[] out = new double[Math.toIntExact(n)];
    int offset = 0;
    for (Map.Entry<String, INDArray> e : order.entrySet()) {
      INDArray v = values.get(e.getKey());
      if (v == null) {
        throw new IllegalStateException("no gradient for parameter " + e.getKey());
      }
      double[] d = v.dup('c').data().asDouble();
      System.arraycopy(d, 0, out, offset, d.length);
      offset += d.length;
    }
    return out;
  }
}
