package io.influence.core.hvp;

import io.influence.core.linalg.BlockLinearOperator;
import io.influence.core.linalg.LinearOperator;
import io.influence.core.model.CausalLm;
import io.influence.core.model.TokenBatch;
import io.influence.core.score.LayerLayout;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

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
 * Per batch, all exact in float64 arithmetic (no differences, no approximation beyond rounding):
 *   1. u = J v by forward-mode differentiation of the logits along v (CausalLm.logitTangents);
 *   2. r = H_out u row by row: r = w ⊙ (p ⊙ u − p (pᵀu)) with p = softmax(z(θ)), in float64;
 *   3. Jᵀ r by the model's backward pass seeded with r instead of p − onehot, the chosen layers'
 *      gradients only (CausalLm.HeldForward.layerGradients: the forward pass of steps 1-3 is shared).
 * So G is linear in v, symmetric and PSD up to rounding (measured against PyTorch's exact
 * jvp-then-vjp product: about 1e-15 relative, see HvpReferenceTest).
 *
 * Precision: the model's (float64 for checks; float32 works too, with float32 rounding in J v and
 * Jᵀ r), while softmax, H_out and the sums over batches are float64.
 *
 * Cost per batch, for a block of k vectors (BlockLinearOperator): one forward pass and one softmax
 * (CausalLm.hold keeps them), then per vector 1 tangent pass and 1 backward pass. One vector at a time
 * (LinearOperator) is the block of one. Memory: the logits of one batch (B·T·V float64) a few times,
 * and the k outputs. The model's parameters are never modified. Not thread-safe (nor is the model).
 */
public final class GaussNewtonOperator implements LinearOperator, BlockLinearOperator {

  private final ParameterSubset subset;
  private final TrainingSequences data;
  private final List<TokenBatch> batches;

  private GaussNewtonOperator(ParameterSubset subset, TrainingSequences data) {
    data.validate(subset.model());
    this.subset = subset;
    this.data = data;
    this.batches = data.batches();
  }

  /**
   * The GGN of the mean loss of {@code data} w.r.t. {@code layers} of {@code model}: exact in float64;
   * a float32 model gives float32-accurate products (the softmax and H_out are float64 either way).
   */
  public static GaussNewtonOperator create(CausalLm model, List<String> layers, TrainingSequences data) {
    return new GaussNewtonOperator(new ParameterSubset(model, layers, false), data);
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
    apply(new double[][] {v}, new double[][] {out});
  }

  /** {@code outs[j] = G vs[j]} with one forward pass and one softmax per batch for the whole block. */
  @Override
  public void apply(double[][] vs, double[][] outs) {
    BlockLinearOperator.checkBlock(this, vs, outs);
    CausalLm model = subset.model();
    List<Map<String, INDArray>> tangents = new java.util.ArrayList<>();
    boolean[] zero = new boolean[vs.length];
    for (int j = 0; j < vs.length; j++) {
      java.util.Arrays.fill(outs[j], 0);
      zero[j] = subset.step(vs[j], 1.0) == 0;   // also rejects NaN/Inf
      tangents.add(zero[j] ? null : subset.layout().fromVector(vs[j], DataType.DOUBLE));
    }
    double scale = 1.0 / data.size();
    for (TokenBatch b : batches) {
      CausalLm.HeldForward held = null;
      OutputCurvature.Softmax p = null;
      for (int j = 0; j < vs.length; j++) {
        if (zero[j]) {
          continue;
        }
        if (held == null) {
          held = model.hold(b);
          p = OutputCurvature.Softmax.of(held.logits(), b);
        }
        double[] u = held.logitTangents(tangents.get(j)).data().asDouble();
        subset.accumulateLayers(held.layerGradients(p.gaussNewton(u), subset.layers()), scale, outs[j]);
      }
    }
    for (double[] out : outs) {
      ParameterSubset.checkFinite(out, "Gauss-Newton-vector product");
    }
  }
}
