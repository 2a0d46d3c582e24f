package io.influence.core.model;

import io.influence.checkpoints.Checkpoint;
import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.Gpt2Config;
import io.influence.checkpoints.ModelConfig;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A decoder-only GPT-2 (Hugging Face parameter names and Conv1D layout) on ND4J, with per-example
 * losses, all-parameter gradients and per-example layer gradients (token factors, full, or
 * Kronecker-projected) from one forward/backward pass over a right-padded batch.
 *
 * <p>Parameter names are Hugging Face's without the {@code transformer.} prefix (it is accepted
 * and stripped on input): {@code wte.weight [V,C]}, {@code wpe.weight [P,C]},
 * {@code h.{i}.ln_1.{weight,bias} [C]}, {@code h.{i}.attn.c_attn.{weight [C,3C], bias [3C]}},
 * {@code h.{i}.attn.c_proj [C,C]}, {@code h.{i}.ln_2}, {@code h.{i}.mlp.c_fc [C,4C]},
 * {@code h.{i}.mlp.c_proj [4C,C]}, {@code ln_f.{weight,bias}}. {@code lm_head.weight} is tied to
 * {@code wte.weight}: accepted (shape-checked) and ignored; the causal-mask buffers
 * {@code h.{i}.attn.bias} / {@code h.{i}.attn.masked_bias} are ignored.
 *
 * <p>Tracked layers are named {@code h.{i}.attn.c_attn} etc. Their per-example gradient is
 * {@code G = gᵀa}, {@code [dOut, dIn+1]}: the first {@code dIn} columns are the transpose of the
 * Hugging Face weight gradient ({@code [dIn, dOut]}), the last column is the bias gradient.
 *
 * <p>Precision: the same code runs in float32 (speed) or float64 (checks), chosen by the ND4J
 * {@link DataType} at construction. Not thread-safe (it keeps one workspace per batch shape).
 *
 * <p>Inside: {@code Gpt2Params} holds the weights (and loads them from Hugging Face names);
 * {@code Gpt2Pass} wires one forward/backward pass per batch shape from parts that do not depend on
 * the model family ({@code CausalAttention}, {@code NextTokenLoss}, {@code PerExampleGradients},
 * the element-wise kernels and {@code Blas}); {@code Gpt2Tangent} is its forward mode.
 */
public final class Gpt2Model implements CausalLm {

  private final Gpt2Config config;
  private final Gpt2Params params;
  private Gpt2Pass pass;
  private boolean reusePerExampleBuffers;

  private Gpt2Model(Gpt2Config config, Gpt2Params params) {
    this.config = config;
    this.params = params;
  }

  /** Loads {@code config.json} + safetensors from a checkpoint folder that must hold a GPT-2 (see {@link CausalLm#load}). */
  public static Gpt2Model load(Path dir, DataType dataType) throws CheckpointFormatException {
    CausalLm m = CausalLm.load(dir, dataType);
    if (!(m instanceof Gpt2Model g)) {
      throw new IllegalArgumentException(dir + ": model_type is " + m.config().modelType()
          + ", not gpt2; HINT: load it with CausalLm.load");
    }
    return g;
  }

  /**
   * Builds a model from Hugging Face-named tensors in Hugging Face shapes (copied; the rules are on
   * {@link Gpt2Params#fromTensors}).
   */
  public static Gpt2Model fromTensors(Gpt2Config config, Map<String, INDArray> tensors, DataType dataType) {
    if (dataType != DataType.FLOAT && dataType != DataType.DOUBLE) {
      throw new IllegalArgumentException("data type must be FLOAT or DOUBLE, got " + dataType);
    }
    String act = config.activationFunction();
    if (!act.equals("gelu_new") && !act.equals("gelu_pytorch_tanh")) {
      throw new IllegalArgumentException("activation_function \"" + act + "\" is not implemented; HINT: Gpt2Model "
          + "implements gelu_new (tanh approximation), GPT-2's default");
    }
    return new Gpt2Model(config, Gpt2Params.fromTensors(config, tensors, dataType));
  }

  /** The same weights in another precision (a copy). */
  public Gpt2Model withDataType(DataType dataType) {
    return fromTensors(config, parameters(), dataType);
  }

  public Gpt2Config config() {
    return config;
  }

  public DataType dataType() {
    return params.dataType;
  }

  /** Every Conv1D inside the blocks, in forward order: the default tracked layers. */
  public List<String> linearLayers() {
    return List.copyOf(params.linears().keySet());
  }

  @Override
  public LinearLayer linear(String layer) {
    INDArray w = params.linears().get(layer);
    if (w == null) {
      throw new IllegalArgumentException("unknown layer " + layer + "; HINT: one of " + linearLayers());
    }
    return new LinearLayer(layer, (int) w.columns() - 1, (int) w.rows(), layer + ".weight", layer + ".bias", true);
  }

  /**
   * Live views of all parameters (same names and shapes as {@link #parameters()}): writing into them
   * changes the model. For optimisers.
   */
  public Map<String, INDArray> parameterViews() {
    return params.named();
  }

  /**
   * For callers that consume each batch's full per-example gradients before the next call
   * (benchmarks): when on, {@code fullPerExample} arrays are views into one buffer per layer that
   * the next call with the same batch shape overwrites, which saves allocating
   * {@code B × layer size} floats per batch. Off by default: results then belong to the caller.
   */
  public void reusePerExampleBuffers(boolean on) {
    this.reusePerExampleBuffers = on;
  }

  /** Per-example summed masked next-token losses. */
  public double[] losses(TokenBatch batch) {
    check(batch);
    return passFor(batch).forward(params, batch);
  }

  /** One forward and backward pass producing what {@code request} asks for. */
  public BatchGradients gradients(TokenBatch batch, GradientRequest request) {
    check(batch);
    List<String> layers = request.trackedLayers() == null ? linearLayers() : request.trackedLayers();
    PerExampleGradients.checkLayers(layers, request.projections(), this::linearShape, dataType());
    Gpt2Pass p = passFor(batch);
    p.loss.useLabels(request.labels());   // every call sets it: a pass is reused across calls
    double[] losses = p.forward(params, batch);
    Gpt2Params grads = request.parameterGradients() ? new Gpt2Params(config, dataType()) : null;
    p.backward(params, grads);
    long t0 = System.nanoTime();
    if (!reusePerExampleBuffers) {
      p.perExample.releaseBuffers();
    }
    PerExampleGradients.Parts parts = p.perExample.compute(batch, request, layers, p::factors);
    p.timer.since("per_example", t0);
    return new BatchGradients(losses, grads == null ? null : Collections.unmodifiableMap(grads.named()),
        parts.tokenFactors(), parts.full(), parts.projected());
  }

  /**
   * The logits of every position, {@code [B, T, V]} 'c' in the model's data type, {@code T =
   * batch.maxLength()}: row {@code t} of example {@code b} scores the token at {@code t + 1}. Rows
   * at or past an example's length are padding (defined, but meaningless). A copy.
   */
  public INDArray logits(TokenBatch batch) {
    check(batch);
    Gpt2Pass p = passFor(batch);
    p.forwardLogits(params, batch);
    return p.batchMajor(p.logits);
  }

  @Override
  public INDArray finalHidden(TokenBatch batch) {
    check(batch);
    Gpt2Pass p = passFor(batch);
    p.forwardLogits(params, batch);
    return p.xf.transpose().dup('c').reshape('c', p.batch, p.seqLen, config.nEmbd());
  }

  @Override
  public INDArray headWeight() {
    return params.wte.dup('c');
  }

  /**
   * The exact directional derivative of the logits (forward mode, a Jacobian-vector product
   * {@code J v}) when the given tracked layers move along {@code tangents}: per layer a
   * {@code [dOut, dIn+1]} matrix in the per-example gradient orientation (first {@code dIn} columns =
   * transpose of the Hugging Face weight direction, last column = bias direction); every other
   * parameter is fixed. Returns {@code [B, T, V]} like {@link #logits} (rows past an example's
   * length are padding).
   */
  public INDArray logitTangents(TokenBatch batch, Map<String, INDArray> tangents) {
    check(batch);
    Gpt2Pass p = passFor(batch);
    p.forwardLogits(params, batch);
    return tangentsAfterForward(p, tangents);
  }

  /** {@link #logitTangents} in a pass that has run its forward pass. */
  private INDArray tangentsAfterForward(Gpt2Pass p, Map<String, INDArray> tangents) {
    int layers = config.nLayer();
    INDArray[][] kinds = new INDArray[4][layers];
    for (Map.Entry<String, INDArray> e : tangents.entrySet()) {
      String l = e.getKey();
      int kind = Arrays.asList(Gpt2Params.LINEARS).indexOf(Gpt2Params.kindOf(l));
      kinds[kind][Gpt2Params.blockOf(l)] = linear(l).requireTangent(e.getValue(), dataType());
    }
    if (p.tangent == null) {
      p.tangent = new Gpt2Tangent(config, p, dataType());
    }
    return p.batchMajor(p.tangent.logits(params, kinds[0], kinds[1], kinds[2], kinds[3]));
  }

  @Override
  public HeldForward hold(TokenBatch batch) {
    check(batch);
    return new HeldPass<>(batch, this::passFor, p -> p.forwardLogits(params, batch), p -> p.batchMajor(p.logits),
        this::tangentsAfterForward, (p, dLogits) -> backwardAfterForward(p, batch, dLogits),
        (p, dLogits, layers) -> layerGradientsAfterForward(p, batch, dLogits, layers));
  }

  /**
   * The tracked layers' gradients {@code g aᵀ} ({@code [dOut, dIn+1]}, summed over the batch's columns; padded columns
   * have zero {@code g}) from the output gradients of a backward pass that skips every parameter gradient.
   */
  private Map<String, INDArray> layerGradientsAfterForward(Gpt2Pass p, TokenBatch batch, INDArray dLogits,
      List<String> layers) {
    NextTokenLoss.requireLogitGradient(dLogits, batch, config.vocabSize());
    p.setLogitGradient(dLogits, batch);
    p.backward(params, null);
    return HeldPass.fromFactors(layers, l -> {
      linear(l);   // fails naming the layer when it is unknown
      return p.factors(l);   // {a [dIn+1, N], g [dOut, N]}
    }, dataType());
  }

  /**
   * As {@link #parameterGradientsFromLogitGradients}, with the logits gradient computed from the
   * logits of the same forward pass: {@code logitGradient} receives the logits ({@code [B, T, V]}, a
   * copy, as {@link #logits} returns) and returns {@code u}; one forward pass instead of two.
   */
  public Map<String, INDArray> parameterGradientsFromLogits(TokenBatch batch,
                                                            UnaryOperator<INDArray> logitGradient) {
    check(batch);
    Gpt2Pass p = passFor(batch);
    p.forwardLogits(params, batch);
    return backwardAfterForward(p, batch, logitGradient.apply(p.batchMajor(p.logits)));
  }

  /** Every parameter's gradient from the logits gradient {@code dLogits}, in a pass that has run its forward pass. */
  private Map<String, INDArray> backwardAfterForward(Gpt2Pass p, TokenBatch batch, INDArray dLogits) {
    NextTokenLoss.requireLogitGradient(dLogits, batch, config.vocabSize());
    p.setLogitGradient(dLogits, batch);
    Gpt2Params grads = new Gpt2Params(config, dataType());
    p.backward(params, grads);
    return Collections.unmodifiableMap(grads.named());
  }

  /**
   * Wall-clock seconds per phase (forward/backward kernels, per-example GEMMs) accumulated by
   * calls on the current batch shape since {@link #resetTimings()}; for profiling.
   */
  public Map<String, Double> timings() {
    return pass == null ? Map.of() : pass.timer.snapshot();
  }

  public void resetTimings() {
    if (pass != null) {
      pass.timer.reset();
    }
  }

  private void check(TokenBatch batch) {
    batch.requireFits(config.nPositions(), config.vocabSize());
  }

  private Gpt2Pass passFor(TokenBatch batch) {
    int b = batch.size();
    int t = batch.maxLength();
    if (pass == null || pass.batch != b || pass.seqLen != t) {
      pass = null;
      pass = new Gpt2Pass(config, dataType(), b, t);
    }
    return pass;
  }
}
