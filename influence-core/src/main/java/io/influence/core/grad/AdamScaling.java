package io.influence.core.grad;

import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.OptimizerState;
import io.influence.core.model.CausalLm;
import io.influence.core.model.LinearLayer;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Adam's per-parameter preconditioner applied to per-example gradients: {@code G ⊘ (√v̂ + ε)} with the
 * bias-corrected second moment {@code v̂ = v / (1 − β2^t)} (TrackStar, Chang et al. 2024; LESS, Xia et al. 2024:
 * the direction Adam would move, not the raw gradient).
 *
 * <p>Layout: per tracked layer one {@code [dOut, cols]} matrix of factors {@code 1 / (√v̂ + ε)} in the per-example
 * gradient orientation of {@link LinearLayer} (weight in the first {@code dIn} columns, the bias, if any, last),
 * mapped from the parameters' Hugging Face layouts by {@link LinearLayer#addTo}. The factors are computed in float64
 * and stored in the model's data type. The scaling is elementwise, so it does not factor through the Kronecker
 * structure {@code Σ_t g_t a_tᵀ}: a projected gradient is {@code P_out (G ⊘ D) P_inᵀ} of the full {@code G}
 * ({@link GradientExtractor} forms it per example).
 */
public final class AdamScaling {

  private final Map<String, INDArray> factors;   // layer -> [dOut, cols] 'f', 1 / (sqrt(v_hat) + eps)
  private final String sha256;

  private AdamScaling(Map<String, INDArray> factors, String sha256) {
    this.factors = factors;
    this.sha256 = sha256;
  }

  /**
   * The scaling of {@code layers} of {@code model} from the optimizer state saved with its checkpoint, whose tensor
   * names are those of the weights file (GPT-2's with the {@code transformer.} prefix our trainer and transformers
   * write).
   */
  public static AdamScaling of(CausalLm model, List<String> layers, OptimizerState state)
      throws CheckpointFormatException {
    return of(model, layers, state, model.config() instanceof io.influence.checkpoints.Gpt2Config ? "transformer." : "");
  }

  /**
   * The scaling of {@code layers} of {@code model} from the optimizer state saved with its checkpoint.
   *
   * @param prefix prefix of the weights file's tensor names before the model's parameter names
   *               (GPT-2: {@code transformer.}; the state may use either form)
   * @throws CheckpointFormatException when the state lacks a tracked parameter or its shape differs
   */
  public static AdamScaling of(CausalLm model, List<String> layers, OptimizerState state, String prefix)
      throws CheckpointFormatException {
    OptimizerState.Settings s = state.settings();
    double correction = 1 - Math.pow(s.beta2(), s.step());
    Map<String, INDArray> out = new LinkedHashMap<>();
    for (String l : layers) {
      LinearLayer ll = model.linear(l);
      Map<String, INDArray> v = new LinkedHashMap<>();
      v.put(ll.weight(), moment(state, ll.weight(), prefix, model));
      if (ll.hasBias()) {
        v.put(ll.bias(), moment(state, ll.bias(), prefix, model));
      }
      double[] flat = new double[(int) ll.size()];
      ll.addTo(v, 1, flat, 0);
      for (int i = 0; i < flat.length; i++) {
        flat[i] = 1 / (Math.sqrt(flat[i] / correction) + s.eps());
      }
      out.put(l, Nd4j.create(flat, new long[] {ll.dOut(), ll.cols()}, 'c').castTo(model.dataType()).dup('f'));
    }
    return new AdamScaling(Collections.unmodifiableMap(out), state.sha256());
  }

  private static INDArray moment(OptimizerState state, String name, String prefix, CausalLm model)
      throws CheckpointFormatException {
    float[] v = state.secondMoment(name, prefix);
    long[] shape = state.shape(name, prefix);
    long[] expected = model.parameterViews().get(name).shape();
    if (!Arrays.equals(shape, expected)) {
      throw new CheckpointFormatException(state.file(), name + OptimizerState.SECOND_MOMENT, "has shape "
          + Arrays.toString(shape) + " but the model's parameter is " + Arrays.toString(expected) + ".",
          "the optimizer state is from another model; save it with the checkpoint it belongs to.");
    }
    return Nd4j.create(v, shape, 'c');
  }

  /** The layers scaled, in order. */
  public List<String> layers() {
    return List.copyOf(factors.keySet());
  }

  /** SHA-256 of the optimizer state file the factors come from. */
  public String sha256() {
    return sha256;
  }

  /** Layer {@code layer}'s factors {@code 1 / (√v̂ + ε)}, {@code [dOut, cols]} (a copy). */
  public INDArray factors(String layer) {
    return factor(layer).dup('f');
  }

  /** Scales the per-example gradient {@code g} ({@code [dOut, cols]}) of {@code layer} in place and returns it. */
  public INDArray applyInPlace(String layer, INDArray g) {
    INDArray f = factor(layer);
    if (!Arrays.equals(f.shape(), g.shape()) || f.dataType() != g.dataType()) {
      throw new IllegalArgumentException("gradient of layer " + layer + " is " + Arrays.toString(g.shape()) + " "
          + g.dataType() + " but its Adam factors are " + Arrays.toString(f.shape()) + " " + f.dataType()
          + "; HINT: build the scaling from the model whose gradients it scales");
    }
    return g.muli(f);
  }

  private INDArray factor(String layer) {
    INDArray f = factors.get(layer);
    if (f == null) {
      throw new IllegalArgumentException("no Adam factors for layer " + layer + " (scaled: " + factors.keySet()
          + "); HINT: build the scaling for every tracked layer");
    }
    return f;
  }
}
