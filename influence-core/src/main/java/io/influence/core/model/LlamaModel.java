package io.influence.core.model;

import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.LlamaConfig;
import io.influence.checkpoints.LoraConfig;
import io.influence.checkpoints.SafetensorsFile;
import java.nio.file.Files;
import java.nio.file.Path;
import io.influence.core.model.LlamaParams.Proj;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A Llama-family causal LM ({@code model_type} llama, mistral, qwen2, qwen3; see {@link LlamaConfig})
 * on ND4J, optionally with a LoRA adapter, with per-example losses, parameter gradients and
 * per-example layer gradients (token factors, full, or Kronecker-projected) from one forward/backward
 * pass over a right-padded batch, and forward-mode logit tangents for Gauss-Newton products.
 *
 * <p>Parameters carry Hugging Face names in Hugging Face shapes: {@code model.embed_tokens.weight
 * [V, C]}, {@code model.layers.{i}.input_layernorm.weight [C]},
 * {@code model.layers.{i}.self_attn.{q,k,v,o}_proj.{weight [out, in], bias [out]}},
 * {@code model.layers.{i}.self_attn.{q,k}_norm.weight [head_dim]} (qwen3),
 * {@code model.layers.{i}.post_attention_layernorm.weight}, {@code model.layers.{i}.mlp.{gate,up,down}_proj.*},
 * {@code model.norm.weight}, {@code lm_head.weight [V, C]} (absent when tied). Loading rules are on
 * {@link LlamaParams#fromTensors}.
 *
 * <p>Tracked layers are the seven projections of every block in forward order, named without
 * {@code .weight} ({@code model.layers.0.self_attn.q_proj}); a layer's per-example gradient is
 * {@code G = Σ_t g_t ã_tᵀ}, {@code [dOut, dIn (+1 with a bias)]}: the weight gradient in Hugging Face's
 * own {@code [out, in]} orientation, the bias gradient as last column.
 *
 * <p>With a LoRA adapter ({@link #withAdapter}) the base is frozen: tracked layers, parameters and
 * parameter gradients are the adapter's factors only, under PEFT's names (see {@link LoraWeights}):
 * layer {@code <module>.lora_A} has input {@code a} and output gradient {@code s Bᵀ g}
 * ({@code [r, in]}), {@code <module>.lora_B} has input {@code A a} and output gradient {@code s g}
 * ({@code [out, r]}).
 *
 * <p>Precision: float32 or float64 by the {@link DataType} at construction, same code. Not
 * thread-safe (one workspace per batch shape).
 *
 * <p>Inside: {@link LlamaParams} (weights), {@link LoraWeights} (adapter), {@link LlamaPass} (one
 * forward/backward per batch shape, from {@link RmsNorm}, {@link Rotary}, {@link GroupedAttention},
 * {@link SwiGlu}, {@link NextTokenLoss}, {@link PerExampleGradients}), {@link LlamaTangent} (forward mode).
 */
public final class LlamaModel implements CausalLm {

  /** Where a tracked layer lives: projection, block, and the LoRA factor ("A"/"B") or null for the base layer. */
  private record LayerRef(Proj proj, int block, String factor, LinearLayer linear) {}

  private final LlamaConfig config;
  private final LlamaParams params;
  private final LoraWeights lora;
  private final Map<String, LayerRef> layers = new LinkedHashMap<>();
  private LlamaPass pass;
  private boolean reusePerExampleBuffers;

  LlamaModel(LlamaConfig config, LlamaParams params, LoraWeights lora) {
    this.config = config;
    this.params = params;
    this.lora = lora;
    for (int l = 0; l < config.numHiddenLayers(); l++) {
      for (Proj p : Proj.values()) {
        int dIn = LlamaParams.dIn(config, p);
        int dOut = LlamaParams.dOut(config, p);
        if (lora == null) {
          String name = LlamaParams.layerName(l, p);
          layers.put(name, new LayerRef(p, l, null, new LinearLayer(name, dIn, dOut, name + ".weight",
              LlamaParams.hasBias(config, p) ? name + ".bias" : null, false)));
        } else if (lora.adapted[p.ordinal()][l]) {
          String a = LoraWeights.layerName(l, p, "A");
          String b = LoraWeights.layerName(l, p, "B");
          layers.put(a, new LayerRef(p, l, "A", new LinearLayer(a, dIn, lora.rank, LoraWeights.tensorName(l, p, "A"),
              null, false)));
          layers.put(b, new LayerRef(p, l, "B", new LinearLayer(b, lora.rank, dOut, LoraWeights.tensorName(l, p, "B"),
              null, false)));
        }
      }
    }
  }

  /**
   * Builds a model from Hugging Face-named tensors in Hugging Face shapes (copied; the rules are on
   * {@link LlamaParams#fromTensors}).
   *
   * @throws IllegalArgumentException naming the tensor, with a HINT, when the tensors do not fit {@code config}
   */
  public static LlamaModel fromTensors(LlamaConfig config, Map<String, INDArray> tensors, DataType dataType) {
    checkType(dataType);
    return new LlamaModel(config, LlamaParams.fromTensors(config, tensors, dataType), null);
  }

  private static void checkType(DataType dataType) {
    if (dataType != DataType.FLOAT && dataType != DataType.DOUBLE) {
      throw new IllegalArgumentException("data type must be FLOAT or DOUBLE, got " + dataType);
    }
  }

  @Override
  public LlamaConfig config() {
    return config;
  }

  @Override
  public DataType dataType() {
    return params.dataType;
  }

  /** Whether a LoRA adapter is on (then only its factors are parameters and tracked layers). */
  public boolean hasAdapter() {
    return lora != null;
  }

  /** The same weights (and adapter) in another precision (a copy). */
  @Override
  public LlamaModel withDataType(DataType dataType) {
    checkType(dataType);
    LlamaParams p = LlamaParams.fromTensors(config, params.named(), dataType);
    LoraWeights w = lora == null ? null
        : LoraWeights.fromTensors(config, lora.rank, lora.scale, lora.adapted, lora.named(), dataType);
    return new LlamaModel(config, p, w);
  }

  /**
   * This model with a PEFT LoRA adapter from {@code adapterDir} ({@code adapter_config.json}, see
   * {@link LoraConfig}, and {@code adapter_model.safetensors}); the base weights are shared, not copied,
   * and stay frozen: the returned model's parameters and tracked layers are the adapter's only.
   * {@code lora_dropout} is ignored (dropout is off at inference).
   *
   * @throws CheckpointFormatException for an unsupported or unreadable adapter (names the file and key)
   * @throws IllegalArgumentException naming the tensor when the adapter's tensors do not fit this model
   */
  public LlamaModel withAdapter(Path adapterDir) throws CheckpointFormatException {
    Path configFile = adapterDir.resolve("adapter_config.json");
    LoraConfig lc = LoraConfig.read(configFile);
    int np = Proj.values().length;
    boolean[][] adapted = new boolean[np][config.numHiddenLayers()];
    for (int l = 0; l < config.numHiddenLayers(); l++) {
      for (Proj p : Proj.values()) {
        adapted[p.ordinal()][l] = lc.targets(LlamaParams.layerName(l, p));
      }
    }
    for (String t : lc.targetModules()) {
      LoraConfig one = new LoraConfig(lc.r(), lc.loraAlpha(), List.of(t), lc.useRslora(), lc.loraDropout());
      boolean any = false;
      for (int l = 0; l < config.numHiddenLayers(); l++) {
        for (Proj p : Proj.values()) {
          any |= one.targets(LlamaParams.layerName(l, p));
        }
      }
      if (!any) {
        throw new CheckpointFormatException(configFile, null, "has target module \"" + t + "\", which matches none "
            + "of the block projections " + Arrays.stream(Proj.values()).map(Proj::shortName).toList() + " of this "
            + config.modelType() + ".", "LoRA is supported on the attention and MLP projections only (not "
            + "embed_tokens or lm_head); remove the target or use the adapter's own base model.");
      }
    }
    Path weights = adapterDir.resolve("adapter_model.safetensors");
    if (!Files.exists(weights)) {
      throw new CheckpointFormatException(adapterDir, null, "has no adapter_model.safetensors"
          + (Files.exists(adapterDir.resolve("adapter_model.bin")) ? " (only the pickle adapter_model.bin, which is "
          + "not read for safety)." : "."), "save the adapter with PEFT's save_pretrained(safe_serialization=True).");
    }
    Map<String, INDArray> tensors = new LinkedHashMap<>();
    try (SafetensorsFile f = SafetensorsFile.open(weights)) {
      for (String name : f.names()) {
        long[] shape = f.info(name).shape();
        tensors.put(name, dataType() == DataType.DOUBLE ? Nd4j.create(f.readDoubles(name), shape, 'c')
            : Nd4j.create(f.readFloats(name), shape, 'c'));
      }
    }
    try {
      return withLora(LoraWeights.fromTensors(config, lc.r(), lc.scale(), adapted, tensors, dataType()));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(adapterDir + ": " + e.getMessage(), e);
    }
  }

  private LlamaModel withLora(LoraWeights w) {
    if (lora != null) {
      throw new IllegalStateException("this model already has an adapter; HINT: load the base model and add one adapter");
    }
    return new LlamaModel(config, params, w);
  }

  /** Base parameters (live views), whatever the adapter. */
  Map<String, INDArray> baseParameters() {
    return params.named();
  }

  @Override
  public List<String> linearLayers() {
    return List.copyOf(layers.keySet());
  }

  @Override
  public LinearLayer linear(String name) {
    return ref(name).linear();
  }

  private LayerRef ref(String name) {
    LayerRef r = layers.get(name);
    if (r == null) {
      List<String> known = linearLayers();
      throw new IllegalArgumentException("unknown layer " + name + "; HINT: one of " + (known.size() <= 16 ? known
          : known.subList(0, 14) + " ... " + known.get(known.size() - 1)) + (lora == null ? ""
          : " (with a LoRA adapter the tracked layers are its lora_A/lora_B factors)"));
    }
    return r;
  }

  @Override
  public Map<String, INDArray> parameterViews() {
    return lora == null ? params.named() : lora.named();
  }

  @Override
  public void reusePerExampleBuffers(boolean on) {
    this.reusePerExampleBuffers = on;
  }

  @Override
  public double[] losses(TokenBatch batch) {
    check(batch);
    return passFor(batch).forward(params, batch);
  }

  @Override
  public BatchGradients gradients(TokenBatch batch, GradientRequest request) {
    check(batch);
    List<String> tracked = request.trackedLayers() == null ? linearLayers() : request.trackedLayers();
    PerExampleGradients.checkLayers(tracked, request.projections(), this::linearShape, dataType());
    LlamaPass p = passFor(batch);
    p.loss.useLabels(request.labels());   // every call sets it: a pass is reused across calls
    double[] losses = p.forward(params, batch);
    Map<String, INDArray> grads = backward(p, request.parameterGradients());
    long t0 = System.nanoTime();
    if (!reusePerExampleBuffers) {
      p.perExample.releaseBuffers();
    }
    PerExampleGradients.Parts parts = p.perExample.compute(batch, request, tracked, l -> factors(p, l));
    p.timer.since("per_example", t0);
    return new BatchGradients(losses, grads, parts.tokenFactors(), parts.full(), parts.projected());
  }

  /** Runs the backward pass; returns the parameter gradients (base or adapter) when asked, else null. */
  private Map<String, INDArray> backward(LlamaPass p, boolean parameterGradients) {
    if (!parameterGradients) {
      p.backward(params, null, null);
      return null;
    }
    if (lora == null) {
      LlamaParams g = new LlamaParams(config, dataType());
      p.backward(params, g, null);
      return Collections.unmodifiableMap(g.named());
    }
    LoraWeights g = new LoraWeights(config, lora, dataType());
    p.backward(params, null, g);
    return Collections.unmodifiableMap(g.named());
  }

  private INDArray[] factors(LlamaPass p, String layer) {
    LayerRef r = ref(layer);
    return p.factors(r.proj(), r.block(), r.factor());
  }

  @Override
  public INDArray logits(TokenBatch batch) {
    check(batch);
    LlamaPass p = passFor(batch);
    p.forwardLogits(params, batch);
    return p.batchMajor(p.logits);
  }

  @Override
  public INDArray finalHidden(TokenBatch batch) {
    check(batch);
    LlamaPass p = passFor(batch);
    p.forwardLogits(params, batch);
    return p.batchMajor(p.xf);
  }

  @Override
  public INDArray headWeight() {
    return params.head.dup('c');
  }

  @Override
  public INDArray logitTangents(TokenBatch batch, Map<String, INDArray> tangents) {
    check(batch);
    LlamaPass p = passFor(batch);
    p.forwardLogits(params, batch);
    return tangentsAfterForward(p, tangents);
  }

  /** {@link #logitTangents} in a pass that has run its forward pass. */
  private INDArray tangentsAfterForward(LlamaPass p, Map<String, INDArray> tangents) {
    int np = Proj.values().length;
    int nl = config.numHiddenLayers();
    INDArray[][] dW = new INDArray[np][nl];
    INDArray[][] dA = new INDArray[np][nl];
    INDArray[][] dB = new INDArray[np][nl];
    for (Map.Entry<String, INDArray> e : tangents.entrySet()) {
      LayerRef r = ref(e.getKey());
      INDArray[][] target = r.factor() == null ? dW : r.factor().equals("A") ? dA : dB;
      target[r.proj().ordinal()][r.block()] = r.linear().requireTangent(e.getValue(), dataType());
    }
    if (p.tangent == null) {
      p.tangent = new LlamaTangent(config, p, lora, dataType());
    }
    return p.batchMajor(p.tangent.logits(params, dW, dA, dB));
  }

  @Override
  public Map<String, INDArray> parameterGradientsFromLogits(TokenBatch batch, UnaryOperator<INDArray> logitGradient) {
    check(batch);
    LlamaPass p = passFor(batch);
    p.forwardLogits(params, batch);
    return backwardAfterForward(p, batch, logitGradient.apply(p.batchMajor(p.logits)));
  }

  /** Every trained parameter's gradient from the logits gradient {@code dLogits}, after the forward pass. */
  private Map<String, INDArray> backwardAfterForward(LlamaPass p, TokenBatch batch, INDArray dLogits) {
    NextTokenLoss.requireLogitGradient(dLogits, batch, config.vocabSize());
    p.setLogitGradient(dLogits, batch);
    return backward(p, true);
  }

  @Override
  public HeldForward hold(TokenBatch batch) {
    check(batch);
    return new HeldPass<>(batch, this::passFor, p -> p.forwardLogits(params, batch), p -> p.batchMajor(p.logits),
        this::tangentsAfterForward, (p, dLogits) -> backwardAfterForward(p, batch, dLogits),
        (p, dLogits, layers) -> layerGradientsAfterForward(p, batch, dLogits, layers));
  }

  /**
   * The tracked layers' (or LoRA factors') gradients {@code g aᵀ} ({@code [dOut, cols]}, summed over the batch's
   * columns; padded columns have zero {@code g}) from a backward pass that skips every parameter gradient.
   */
  private Map<String, INDArray> layerGradientsAfterForward(LlamaPass p, TokenBatch batch, INDArray dLogits,
      List<String> layers) {
    NextTokenLoss.requireLogitGradient(dLogits, batch, config.vocabSize());
    p.setLogitGradient(dLogits, batch);
    backward(p, false);
    return HeldPass.fromFactors(layers, l -> factors(p, l), dataType());
  }

  @Override
  public Map<String, Double> timings() {
    return pass == null ? Map.of() : pass.timer.snapshot();
  }

  @Override
  public void resetTimings() {
    if (pass != null) {
      pass.timer.reset();
    }
  }

  private void check(TokenBatch batch) {
    batch.requireFits(config.maxPositionEmbeddings(), config.vocabSize());
  }

  private LlamaPass passFor(TokenBatch batch) {
    int b = batch.size();
    int t = batch.maxLength();
    if (pass == null || pass.batch != b || pass.seqLen != t) {
      pass = null;
      pass = new LlamaPass(config, lora, dataType(), b, t);
    }
    return pass;
  }
}
