package io.influence.core.hvp;

import io.influence.core.linalg.LinearOperator;
import io.influence.core.model.Gpt2Model;
import io.influence.core.model.TokenBatch;
import io.influence.core.score.LayerLayout;
import java.util.List;

/*
 * Generalised Gauss-Newton (GGN) products of the mean training loss w.r.t. the parameters θ_S of
 * chosen tracked linear layers (LayerLayout order, see ParameterSubset):
 *
 *     G v = (1/N) Σ_n J_nᵀ H_out,n J_n v,
 *
 * J_n = ∂logits(z_n)/∂θ_S and H_out the Hessian of the summed cross-entropy w.r.t. the logits, which
 * is block-diagonal over counted positions with blocks diag(p) − p pᵀ (p = softmax of that
 * position's logits); uncounted positions (masked, first token, padding) contribute zero blocks.
 * Each block is PSD, hence G is symmetric PSD: the curvature used for LMs (Martens 2020, "New
 * insights and perspectives on the natural gradient method"; Grosse et al. 2023 §2.2). It equals
 * the Fisher of the model's own predictive distribution for softmax outputs.
 *
 * Per batch:
 *   1. u = J v by central differences of float64 logits, (z(θ+εv) − z(θ−εv)) / 2ε with
 *      ε‖v‖ = relativeStep · max(‖θ_S‖, 1) (1e-5 by default); error (ε²/6)‖∂³z[v,v,v]‖ + rounding
 *      ≈ 2⁻⁵³‖z‖‖v‖/h, about 1e-10 relative for the tests' small GPT-2s (≈1e-9 measured against
 *      PyTorch's exact product, see HvpReferenceTest);
 *   2. r = H_out u row by row: r = w ⊙ (p ⊙ u − p (pᵀu)) with p from z(θ), in float64;
 *   3. Jᵀ r exactly, by the model's backward pass seeded with r instead of p − onehot
 *      (Gpt2Model.parameterGradientsFromLogits: steps 2-3 share the forward pass at θ).
 * Steps 2–3 are exact, so G v = Jᵀ H_out (J v + e) with ‖e‖ the step-1 error: vᵀGv is ≥ 0 up to
 * that error, and the operator is symmetric to the same accuracy.
 *
 * Cost per batch: 2 forward passes + 1 forward/backward pass. Memory: logits of one batch
 * (B·T·V float64) three times. The model is moved through parameterViews() and θ_S is restored
 * bit for bit before apply() returns (also on error). Not thread-safe.
 */
public final class GaussNewtonOperator implements LinearOperator {

  private final ParameterSubset subset;
  private final TrainingSequences data;
  private final List<TokenBatch> batches;
  private final double relativeStep;

  private GaussNewtonOperator(ParameterSubset subset, TrainingSequences data, double relativeStep) {
    this.subset = subset;
    this.data = data;
    this.batches = data.batches();
    this.relativeStep = relativeStep;
  }

  /** The GGN of the mean loss of {@code data} w.r.t. {@code layers} of a float64 {@code model}. */
  public static GaussNewtonOperator create(Gpt2Model model, List<String> layers, TrainingSequences data) {
    return create(model, layers, data, HessianOperator.DEFAULT_RELATIVE_STEP);
  }

  /** As {@link #create(Gpt2Model, List, TrainingSequences)} with another relative step for {@code J v}. */
  public static GaussNewtonOperator create(Gpt2Model model, List<String> layers, TrainingSequences data,
                                           double relativeStep) {
    if (!(relativeStep > 0 && relativeStep < 1)) {
      throw new IllegalArgumentException("relative step must be in (0, 1), got " + relativeStep);
    }
    return new GaussNewtonOperator(new ParameterSubset(model, layers), data, relativeStep);
  }

  /** The flat layout of vectors (the chosen layers, {@code [dOut, dIn+1]} each, row-major). */
  public LayerLayout layout() {
    return subset.layout();
  }

  @Override
  public int dim() {
    return subset.dim();
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
    Gpt2Model model = subset.model();
    double scale = 1.0 / data.size();
    try {
      for (TokenBatch b : batches) {
        subset.setShifted(v, eps);
        double[] plus = model.logits(b).data().asDouble();
        subset.setShifted(v, -eps);
        double[] minus = model.logits(b).data().asDouble();
        subset.restore();
        double[] u = new double[plus.length];
        for (int k = 0; k < u.length; k++) {
          u[k] = (plus[k] - minus[k]) / (2 * eps);
        }
        subset.accumulate(model.parameterGradientsFromLogits(b, z -> OutputCurvature.gaussNewton(z, u, b)), scale, out);
      }
    } finally {
      subset.restore();
    }
    ParameterSubset.checkFinite(out, "Gauss-Newton-vector product");
  }
}
