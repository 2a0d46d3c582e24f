package io.influence.core.train;

import io.influence.checkpoints.OptimizerState;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * First-order optimizers updating named parameters in place from their gradients.
 *
 * <p>{@link #sgd} is plain gradient descent {@code θ ← θ − η g} (optionally with decoupled
 * weight decay). {@link #adamW} is Loshchilov &amp; Hutter's AdamW: bias-corrected first and
 * second moments, and weight decay applied directly to the parameters ({@code θ ← θ − η λ θ}),
 * not through the gradient. Moments are kept in the parameters' data type. Parameters whose
 * name marks them as a LayerNorm gain/bias or a bias receive no weight decay (the usual GPT-2
 * recipe); {@link #decays(String)} is the rule.
 *
 * <p>{@link #saveState} writes AdamW's moments beside a checkpoint ({@link OptimizerState}, for optimizer-aware
 * influence); SGD has no state and writes nothing.
 */
public abstract sealed class Optimizer permits Optimizer.Sgd, Optimizer.AdamW {

  /** Applies one update with learning rate {@code rate}; {@code step} is 1-based. */
  public abstract void update(Map<String, INDArray> parameters, Map<String, INDArray> gradients, double rate, int step);

  /**
   * Writes this optimizer's state after update {@code step} into the checkpoint folder {@code dir}, each parameter
   * under {@code prefix} + its name (the tensor names of the checkpoint's weights file); nothing for a stateless one.
   */
  public abstract void saveState(Path dir, String prefix, long step) throws IOException;

  /** The name recorded in a run's training log: {@value #SGD} or {@value #ADAMW}. */
  public abstract String name();

  /** The numeric settings recorded in a run's training log, by name. */
  public abstract Map<String, Double> settings();

  /** {@link #name()} of plain SGD. */
  public static final String SGD = "sgd";
  /** {@link #name()} of AdamW. */
  public static final String ADAMW = "adamw";

  public static Optimizer sgd(double weightDecay) {
    return new Sgd(weightDecay);
  }

  public static Optimizer adamW(double beta1, double beta2, double epsilon, double weightDecay) {
    return new AdamW(beta1, beta2, epsilon, weightDecay);
  }

  /** Whether weight decay applies to the parameter: matrices and embeddings, not biases or norms. */
  static boolean decays(String name) {
    return !(name.endsWith(".bias") || name.contains("ln_") || name.contains("norm"));
  }

  static INDArray gradientOf(Map<String, INDArray> gradients, String name, INDArray parameter) {
    INDArray g = gradients.get(name);
    if (g == null) {
      throw new IllegalArgumentException("no gradient for parameter " + name);
    }
    if (!java.util.Arrays.equals(g.shape(), parameter.shape())) {
      throw new IllegalArgumentException("gradient of " + name + " has shape " + java.util.Arrays.toString(g.shape())
          + " but the parameter has " + java.util.Arrays.toString(parameter.shape()));
    }
    return g;
  }

  static final class Sgd extends Optimizer {
    private final double weightDecay;

    Sgd(double weightDecay) {
      if (!(weightDecay >= 0)) {
        throw new IllegalArgumentException("weight decay must be >= 0, got " + weightDecay);
      }
      this.weightDecay = weightDecay;
    }

    @Override
    public String name() {
      return SGD;
    }

    @Override
    public Map<String, Double> settings() {
      return Map.of("weight_decay", weightDecay);
    }

    @Override
    public void saveState(Path dir, String prefix, long step) {
      // plain SGD keeps no state
    }

    @Override
    public void update(Map<String, INDArray> parameters, Map<String, INDArray> gradients, double rate, int step) {
      for (Map.Entry<String, INDArray> e : parameters.entrySet()) {
        INDArray p = e.getValue();
        INDArray g = gradientOf(gradients, e.getKey(), p);
        if (weightDecay > 0 && decays(e.getKey())) {
          p.muli(1 - rate * weightDecay);
        }
        p.subi(g.mul(rate));
      }
    }
  }

  static final class AdamW extends Optimizer {
    private final double beta1;
    private final double beta2;
    private final double epsilon;
    private final double weightDecay;
    private final Map<String, INDArray> first = new LinkedHashMap<>();
    private final Map<String, INDArray> second = new LinkedHashMap<>();

    AdamW(double beta1, double beta2, double epsilon, double weightDecay) {
      if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
        throw new IllegalArgumentException("betas must be in [0, 1), got " + beta1 + ", " + beta2);
      }
      if (!(epsilon > 0) || !(weightDecay >= 0)) {
        throw new IllegalArgumentException("need epsilon > 0 and weight decay >= 0, got " + epsilon + ", " + weightDecay);
      }
      this.beta1 = beta1;
      this.beta2 = beta2;
      this.epsilon = epsilon;
      this.weightDecay = weightDecay;
    }

    @Override
    public String name() {
      return ADAMW;
    }

    @Override
    public Map<String, Double> settings() {
      return Map.of("beta1", beta1, "beta2", beta2, "epsilon", epsilon, "weight_decay", weightDecay);
    }

    @Override
    public void saveState(Path dir, String prefix, long step) throws IOException {
      if (second.isEmpty()) {
        throw new IllegalStateException("AdamW has no state before its first update; save after step 1 or later");
      }
      Map<String, long[]> shapes = new LinkedHashMap<>();
      Map<String, float[]> m = new LinkedHashMap<>();
      Map<String, float[]> v = new LinkedHashMap<>();
      for (Map.Entry<String, INDArray> e : second.entrySet()) {
        String name = prefix + e.getKey();
        shapes.put(name, e.getValue().shape());
        m.put(name, first.get(e.getKey()).dup('c').data().asFloat());
        v.put(name, e.getValue().dup('c').data().asFloat());
      }
      OptimizerState.write(dir, new OptimizerState.Settings(ADAMW, step, beta1, beta2, epsilon, weightDecay), shapes, m, v);
    }

    @Override
    public void update(Map<String, INDArray> parameters, Map<String, INDArray> gradients, double rate, int step) {
      double correction1 = 1 - Math.pow(beta1, step);
      double correction2 = 1 - Math.pow(beta2, step);
      for (Map.Entry<String, INDArray> e : parameters.entrySet()) {
        String name = e.getKey();
        INDArray p = e.getValue();
        INDArray g = gradientOf(gradients, name, p);
        INDArray m = first.computeIfAbsent(name, k -> Nd4j.zeros(p.dataType(), p.shape()));
        INDArray v = second.computeIfAbsent(name, k -> Nd4j.zeros(p.dataType(), p.shape()));
        m.muli(beta1).addi(g.mul(1 - beta1));
        v.muli(beta2).addi(g.mul(g).muli(1 - beta2));
        if (weightDecay > 0 && decays(name)) {
          p.muli(1 - rate * weightDecay);
        }
        INDArray denominator = Transforms.sqrt(v.div(correction2), false).addi(epsilon);
        p.subi(m.div(correction1).divi(denominator).muli(rate));
      }
    }
  }
}
