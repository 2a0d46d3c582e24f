package io.influence.core.sgdinfluence;

import io.influence.checkpoints.TrainingLog;
import java.nio.file.Path;
import java.util.List;

/*
 * SGD-influence (Hara, Nitanda & Maehara, "Data Cleansing for Models Trained with SGD", NeurIPS 2019):
 * the effect of leaving one training example out of a recorded SGD run, estimated by replaying the
 * run backwards with Hessian-vector products instead of retraining.
 *
 * The run. Plain SGD with the logged steps t = 1..T,
 *     θ_t = θ_{t-1} − c_t Σ_{i ∈ B_t} ∇ℓ_i(θ_{t-1}),     c_t = η_t / D_t,
 * η_t the step's learning rate, D_t its loss divisor (our trainer: the batch's predicted-token count;
 * a per-example mean: |B_t|), B_t its mini-batch (a multiset of corpus indices).
 *
 * The counterfactual (Hara et al.'s "counterfactual SGD"): the same run with example j's terms
 * removed from every step whose batch holds it, every divisor D_t unchanged. Linearising around the
 * recorded trajectory, δ_t = θ_t^{−j} − θ_t obeys
 *     δ_t = (I − c_t H_t) δ_{t−1} + c_t m_{jt} ∇ℓ_j(θ_{t−1}),     H_t = Σ_{i ∈ B_t} ∇²ℓ_i(θ_{t−1}),
 * m_{jt} the number of times j occurs in B_t; so
 *     Δθ_T ≈ Σ_{t: j ∈ B_t} c_t m_{jt} Z_{T←t+1} ∇ℓ_j(θ_{t−1}),   Z_{T←t+1} = Π_{s=T..t+1} (I − c_s H_s).
 * (Sign: removing j removes its descent terms −c_t ∇ℓ_j, hence the plus.)
 *
 * Query scores, backwards (one vector per query, no per-example vector): u_T = ∇L_q(θ_T); for
 * t = T..1, every occurrence of j in B_t adds c_t ⟨u_t, ∇ℓ_j(θ_{t−1})⟩ to j's score, then
 * u_{t−1} = u_t − c_t H_t u_t. The score is ⟨∇L_q(θ_T), Δθ_T⟩ ≈ L_q(θ_T^{−j}) − L_q(θ_T), the change
 * of the query loss when j is left out: positive = removing j raises the query loss = j helped,
 * the project's sign convention (DESIGN.md).
 *
 * Cost: the trajectory θ_0..θ_{T−1} (one forward replay, kept in memory), then per step one
 * per-example gradient of each batch member and one batch HVP per query vector; all queries of a
 * block share the per-example gradients. Exact for a quadratic loss; first order otherwise.
 *
 * Setting. Plain SGD only: an optimizer with state (momentum, Adam) makes θ_t depend on the whole
 * gradient history through that state, which this recursion does not carry, so such runs are
 * refused (not approximated); so are weight decay (not modelled) and steps where gradient
 * clipping fired (the update is then not linear in the batch's gradient sum).
 */
public final class SgdInfluence {

  private SgdInfluence() {}

  /**
   * Refuses a log this method cannot replay exactly: an optimizer other than plain SGD, weight
   * decay, or a step whose gradient was clipped. {@code file} names the log in the message.
   */
  public static void requirePlainSgd(TrainingLog log, Path file) {
    if (!"sgd".equals(log.optimizer())) {
      throw new IllegalArgumentException(file + ": the run was trained with optimizer \"" + log.optimizer()
          + "\"; SGD-influence replays plain SGD steps (θ ← θ − η·g), and an optimizer with state (momentum, Adam)"
          + " is refused rather than approximated. HINT: retrain the run with plain SGD (Optimizer.sgd(0);"
          + " `train.optimizer = sgd`), or score it with another method (tracin, ekfac, cg, lissa).");
    }
    for (var e : log.optimizerSettings().entrySet()) {
      if (!e.getKey().equals("weight_decay")) {
        throw new IllegalArgumentException(file + ": optimizer setting \"" + e.getKey() + "\" is not part of plain SGD."
            + " HINT: retrain with Optimizer.sgd(0).");
      }
      if (e.getValue() != 0) {
        throw new IllegalArgumentException(file + ": the run used weight decay " + e.getValue()
            + ", which SGD-influence does not model. HINT: retrain with weight decay 0 (Optimizer.sgd(0)).");
      }
    }
    for (TrainingLog.Step s : log.steps()) {
      if (s.clipScale() != 1) {
        throw new IllegalArgumentException(file + ": gradient clipping fired at step " + s.step() + " (scale "
            + s.clipScale() + "), so that update is not linear in the batch's gradients. HINT: retrain without"
            + " clipping (clipNorm 0) or with a larger clip norm.");
      }
    }
    if (log.steps().isEmpty()) {
      throw new IllegalArgumentException(file + ": the log records no steps. HINT: the run was interrupted before"
          + " step 1; retrain it.");
    }
  }

  /**
   * Scores of every training example for each query: {@code out[q][j]} estimates
   * {@code L_q(θ_T without j) − L_q(θ_T)} (positive = j helped query q).
   *
   * @param trajectory     {@code θ_0 .. θ_{T−1}}: the parameters before each logged step
   * @param steps          the logged steps 1..T (plain SGD, see {@link #requirePlainSgd})
   * @param queryGradients {@code ∇L_q(θ_T)} per query
   * @param corpusSize     the number of training examples (score columns)
   */
  public static double[][] queryScores(ReplayModel model, List<double[]> trajectory, List<TrainingLog.Step> steps,
                                       double[][] queryGradients, int corpusSize) {
    check(model, trajectory, steps);
    int q = queryGradients.length;
    double[][] u = new double[q][];
    for (int k = 0; k < q; k++) {
      if (queryGradients[k].length != model.dim()) {
        throw new IllegalArgumentException("query gradient " + k + " has length " + queryGradients[k].length
            + " but the model has " + model.dim() + " parameters");
      }
      u[k] = queryGradients[k].clone();
    }
    double[][] scores = new double[q][corpusSize];
    for (int t = steps.size(); t >= 1; t--) {
      TrainingLog.Step step = steps.get(t - 1);
      double c = rate(step);
      int[] batch = step.examples();
      model.setParameters(trajectory.get(t - 1));
      double[][] g = model.exampleGradients(batch);
      for (int b = 0; b < batch.length; b++) {
        if (batch[b] >= corpusSize) {
          throw new IllegalArgumentException("step " + step.step() + " names example " + batch[b]
              + " but the corpus has " + corpusSize);
        }
        for (int k = 0; k < q; k++) {
          scores[k][batch[b]] += c * dot(u[k], g[b]);
        }
      }
      if (t > 1) {   // u_0 is not needed
        double[][] hu = model.hessianSums(batch, u);
        for (int k = 0; k < q; k++) {
          axpy(-c, hu[k], u[k]);
        }
      }
    }
    return scores;
  }

  /**
   * SGD-influence self-influence: {@code out[k]} estimates {@code ℓ_j(θ_T without j) − ℓ_j(θ_T)} for
   * {@code j = examples[k]}, the change of example {@code j}'s own loss when it is left out of the run (positive =
   * its own steps lowered its loss; large for examples the run could only fit by their own steps). It is
   * {@link #queryScores} with the query vector {@code ∇ℓ_j(θ_T)}: one backward replay per example (T batch HVPs and
   * the batch's per-example gradients per step), {@code block} examples per replay sharing the per-example gradients.
   * The caller bounds the number of examples; nothing here is cheaper than a replay per example.
   *
   * @param finalParameters {@code θ_T}, the parameters after the last logged step
   */
  public static double[] selfScores(ReplayModel model, List<double[]> trajectory, List<TrainingLog.Step> steps,
                                    double[] finalParameters, int[] examples, int corpusSize, int block) {
    if (block < 1) {
      throw new IllegalArgumentException("block must be >= 1, got " + block);
    }
    double[] out = new double[examples.length];
    for (int first = 0; first < examples.length; first += block) {
      int[] part = java.util.Arrays.copyOfRange(examples, first, Math.min(first + block, examples.length));
      model.setParameters(finalParameters);
      double[][] g = model.exampleGradients(part);
      double[][] scores = queryScores(model, trajectory, steps, g, corpusSize);
      for (int k = 0; k < part.length; k++) {
        out[first + k] = scores[k][part[k]];
      }
    }
    return out;
  }

  /**
   * {@code Δθ_T ≈ θ_T(without example) − θ_T}, propagated forward through the Jacobians of the
   * steps (see the class comment); one HVP per step after the example's first batch.
   */
  public static double[] parameterEffect(ReplayModel model, List<double[]> trajectory, List<TrainingLog.Step> steps,
                                         int example) {
    check(model, trajectory, steps);
    double[] delta = new double[model.dim()];
    boolean started = false;
    for (int t = 1; t <= steps.size(); t++) {
      TrainingLog.Step step = steps.get(t - 1);
      double c = rate(step);
      int[] batch = step.examples();
      int count = 0;
      for (int i : batch) {
        count += i == example ? 1 : 0;
      }
      if (!started && count == 0) {
        continue;
      }
      model.setParameters(trajectory.get(t - 1));
      if (started) {
        double[] h = model.hessianSums(batch, new double[][] {delta})[0];
        axpy(-c, h, delta);
      }
      if (count > 0) {
        double[] g = model.exampleGradients(new int[] {example})[0];
        axpy(c * count, g, delta);
        started = true;
      }
    }
    return delta;
  }

  private static double rate(TrainingLog.Step step) {
    if (step.clipScale() != 1) {
      throw new IllegalArgumentException("step " + step.step() + " was clipped; HINT: check the log with requirePlainSgd");
    }
    return step.learningRate() / step.lossDivisor();
  }

  private static void check(ReplayModel model, List<double[]> trajectory, List<TrainingLog.Step> steps) {
    if (trajectory.size() != steps.size()) {
      throw new IllegalArgumentException("the trajectory holds " + trajectory.size() + " parameter vectors but the log "
          + steps.size() + " steps; HINT: pass θ_0..θ_{T−1}, the parameters before each step");
    }
    for (int t = 0; t < steps.size(); t++) {
      if (steps.get(t).step() != t + 1) {
        throw new IllegalArgumentException("entry " + t + " of the steps is step " + steps.get(t).step());
      }
      if (trajectory.get(t).length != model.dim()) {
        throw new IllegalArgumentException("θ_" + t + " has length " + trajectory.get(t).length + " but the model has "
            + model.dim() + " parameters");
      }
    }
  }

  static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }

  static void axpy(double a, double[] x, double[] y) {
    for (int i = 0; i < x.length; i++) {
      y[i] += a * x[i];
    }
  }
}
