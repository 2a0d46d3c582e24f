package io.influence.core.hvp;

import io.influence.core.linalg.LinearOperator;
import io.influence.core.model.CausalLm;
import io.influence.core.model.TokenBatch;
import io.influence.core.score.LayerLayout;
import java.util.List;

/*
 * Hessian-vector products of the mean training loss L(θ) = (1/N) Σ_n L(z_n; θ) with respect to
 * the parameters θ_S of chosen tracked linear layers (weights and biases; LayerLayout order, the
 * space of per-example gradients, see ParameterSubset), all other parameters held fixed.
 *
 * Method: central differences of exact float64 gradients (Pearlmutter 1994 gives the exact
 * R-operator; this is the "finite difference" variant he compares it with),
 *
 *     H v ≈ D(ε) = (∇L(θ + εv) − ∇L(θ − εv)) / 2ε,
 *
 * each gradient being an exact float64 backward pass over the N sequences in batches: the
 * model's backward seeded with ∂L/∂logits = w ⊙ (softmax − onehot) computed here in float64
 * (CausalLm.parameterGradientsFromLogits; the same gradient as GradientRequest.allParameters(),
 * without the model's ND4J loss kernel, whose many small ops dominated at these sizes). The step
 * makes the perturbation a fixed fraction of the parameters: ε‖v‖ = h = relativeStep · max(‖θ_S‖, 1),
 * relativeStep = 1e-5 by default.
 *
 * Error bound. With v̂ = v/‖v‖, Taylor's theorem with the remainder in integral form gives
 *     D(ε) − Hv = (ε²/6) ∇⁴L[v, v, v] averaged over θ ± ξv, |ξ| ≤ ε      (truncation, exact algebra)
 * so ‖D(ε) − Hv‖ ≤ (h²/6) ‖v‖ M₄, M₄ = max over the segment of ‖∇⁴L[v̂, v̂, v̂]‖ (the third
 * directional derivative of the gradient), plus rounding: if each float64 gradient carries an
 * absolute error δ ≈ c·2⁻⁵³·‖∇L‖ (c = a modest growth factor of the backward pass), the difference
 * quotient adds at most δ‖v‖/h. Relative to ‖Hv‖ ≈ ‖v‖M₂ the total is about
 * h²M₄/(6M₂) + δ/(h M₂). The first term falls and the second grows as h shrinks; they balance
 * near h ≈ (2⁻⁵³)^(1/3) ≈ 5e-6 in units of the parameters' scale, hence h = 1e-5·‖θ_S‖. Measured
 * on the tests' GPT-2 against PyTorch's exact double-backward Hv (HvpReferenceTest): 2e-9 to 8e-9
 * of max|Hv|, shrinking ~100× when h shrinks 10× from 1e-4‖θ_S‖ (the truncation term dominates).
 * The result is not exactly linear in v (the O(ε²) term is cubic), so the operator is symmetric
 * only to that accuracy; solvers do not notice.
 *
 * Cost: 2 gradient passes over the training set per product. The model is moved through
 * CausalLm.parameterViews() and the saved θ_S is assigned back bit for bit before apply()
 * returns (also on error). Not thread-safe (nor is the model); the product is taken at the
 * parameters the model holds when apply() is called.
 */
public final class HessianOperator implements LinearOperator {

  /** Default {@code h/max(‖θ_S‖, 1)}: about the cube root of float64's unit roundoff, balancing the two errors. */
  public static final double DEFAULT_RELATIVE_STEP = 1e-5;

  private final ParameterSubset subset;
  private final TrainingSequences data;
  private final List<TokenBatch> batches;
  private final double relativeStep;

  private HessianOperator(ParameterSubset subset, TrainingSequences data, double relativeStep) {
    data.validate(subset.model());
    this.subset = subset;
    this.data = data;
    this.batches = data.batches();
    this.relativeStep = relativeStep;
  }

  /** The Hessian of the mean loss of {@code data} w.r.t. {@code layers} of a float64 {@code model}. */
  public static HessianOperator create(CausalLm model, List<String> layers, TrainingSequences data) {
    return create(model, layers, data, DEFAULT_RELATIVE_STEP);
  }

  /** As {@link #create(CausalLm, List, TrainingSequences)} with another relative step (see the class comment). */
  public static HessianOperator create(CausalLm model, List<String> layers, TrainingSequences data, double relativeStep) {
    if (!(relativeStep > 0 && relativeStep < 1)) {
      throw new IllegalArgumentException("relative step must be in (0, 1), got " + relativeStep);
    }
    return new HessianOperator(new ParameterSubset(model, layers, true), data, relativeStep);
  }

  /** The flat layout of vectors (the chosen layers, {@code [dOut, dIn+1]} each, row-major). */
  public LayerLayout layout() {
    return subset.layout();
  }

  @Override
  public int dim() {
    return subset.dim();
  }

  /** The step {@code ε} that {@link #apply} uses for {@code v} (0 for the zero vector). */
  public double step(double[] v) {
    subset.capture();
    return subset.step(v, relativeStep);
  }

  /** {@code ∇L(θ)} of the mean loss w.r.t. the chosen layers, in {@link #layout()} order. */
  public double[] gradient() {
    double[] out = new double[dim()];
    subset.capture();
    accumulateMeanGradient(1.0, out);
    ParameterSubset.checkFinite(out, "gradient of the mean loss");
    return out;
  }

  @Override
  public void apply(double[] v, double[] out) {
    subset.checkDim(v, out);
    subset.capture();
    double eps = subset.step(v, relativeStep);
    java.util.Arrays.fill(out, 0);
    if (eps == 0) {
      return;
    }
    try {
      subset.setShifted(v, eps);
      accumulateMeanGradient(1 / (2 * eps), out);
      subset.setShifted(v, -eps);
      accumulateMeanGradient(-1 / (2 * eps), out);
    } finally {
      subset.restore();
    }
    ParameterSubset.checkFinite(out, "Hessian-vector product");
  }

  private void accumulateMeanGradient(double scale, double[] out) {
    double s = scale / data.size();
    for (TokenBatch b : batches) {
      subset.accumulate(subset.model().parameterGradientsFromLogits(b, z -> OutputCurvature.lossGradient(z, b)), s, out);
    }
  }
}
