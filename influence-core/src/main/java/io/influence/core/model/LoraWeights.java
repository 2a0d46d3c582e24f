package io.influence.core.model;

import io.influence.checkpoints.LlamaConfig;
import io.influence.core.model.LlamaParams.Proj;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The factors of a LoRA adapter on a Llama-family model (or a same-shaped gradient): for each
 * adapted projection {@code W} of a block, {@code A} 'f' {@code [r, in]} and {@code B} 'f'
 * {@code [out, r]}; the adapted layer computes {@code W x (+ b) + s·B(A x)} with the scale {@code s}
 * (alpha/r, or alpha/√r with rsLoRA). Names are PEFT's:
 * {@code base_model.model.<module>.lora_A.weight} and {@code .lora_B.weight} with {@code <module>} the
 * Hugging Face module name ({@code model.layers.0.self_attn.q_proj}); as tracked layers the two
 * factors are {@code <module>.lora_A} and {@code <module>.lora_B} (no bias).
 */
final class LoraWeights {

  static final String PREFIX = "base_model.model.";

  final int rank;
  final double scale;
  final boolean[][] adapted;   // [Proj][layer]
  final INDArray[][] a, b;     // [Proj][layer], null where not adapted
  private final Map<String, INDArray> named = new LinkedHashMap<>();

  /** Zero-filled factors of rank {@code rank} on the {@code adapted} projections. */
  LoraWeights(LlamaConfig cfg, int rank, double scale, boolean[][] adapted, DataType dt) {
    this.rank = rank;
    this.scale = scale;
    this.adapted = adapted;
    int layers = cfg.numHiddenLayers();
    a = new INDArray[Proj.values().length][layers];
    b = new INDArray[Proj.values().length][layers];
    for (int l = 0; l < layers; l++) {
      for (Proj k : Proj.values()) {
        if (!adapted[k.ordinal()][l]) {
          continue;
        }
        a[k.ordinal()][l] = Nd4j.create(dt, new long[] {rank, LlamaParams.dIn(cfg, k)}, 'f');
        b[k.ordinal()][l] = Nd4j.create(dt, new long[] {LlamaParams.dOut(cfg, k), rank}, 'f');
        named.put(tensorName(l, k, "A"), a[k.ordinal()][l]);
        named.put(tensorName(l, k, "B"), b[k.ordinal()][l]);
      }
    }
  }

  /** Zero-filled factors shaped like {@code like} (gradient accumulators). */
  LoraWeights(LlamaConfig cfg, LoraWeights like, DataType dt) {
    this(cfg, like.rank, like.scale, like.adapted, dt);
  }

  /** {@code base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight}. */
  static String tensorName(int layer, Proj k, String which) {
    return PREFIX + layerName(layer, k, which) + ".weight";
  }

  /** Tracked-layer name {@code model.layers.0.self_attn.q_proj.lora_A}. */
  static String layerName(int layer, Proj k, String which) {
    return LlamaParams.layerName(layer, k) + ".lora_" + which;
  }

  /**
   * Factors copied from PEFT-named tensors: every adapted projection needs both factors, in their
   * shapes, finite; anything else is refused.
   *
   * @throws IllegalArgumentException naming the tensor, with a HINT
   */
  static LoraWeights fromTensors(LlamaConfig cfg, int rank, double scale, boolean[][] adapted,
                                 Map<String, INDArray> tensors, DataType dt) {
    LoraWeights w = new LoraWeights(cfg, rank, scale, adapted, dt);
    TreeSet<String> seen = new TreeSet<>();
    for (Map.Entry<String, INDArray> e : tensors.entrySet()) {
      String name = e.getKey();
      INDArray target = w.named.get(name);
      if (target == null) {
        throw new IllegalArgumentException("unknown adapter tensor " + name + "; HINT: expected PEFT LoRA names "
            + "base_model.model.<module>.lora_A.weight / .lora_B.weight for the modules target_modules selects ("
            + w.named.size() / 2 + " here, e.g. " + (w.named.isEmpty() ? "none" : w.named.keySet().iterator().next())
            + "); biases, DoRA magnitudes, embeddings and modules_to_save are not supported");
      }
      seen.add(name);
      INDArray v = e.getValue();
      if (!Arrays.equals(v.shape(), target.shape())) {
        throw new IllegalArgumentException("adapter tensor " + name + " has shape " + Arrays.toString(v.shape())
            + ", expected " + Arrays.toString(target.shape()) + " (r=" + rank + "); HINT: lora_A is [r, in], lora_B "
            + "[out, r]; check r in adapter_config.json and that the adapter belongs to this base model");
      }
      if (!Elementwise.allFinite(v)) {
        throw new IllegalArgumentException("adapter tensor " + name + " contains NaN or Inf");
      }
      target.assign(v.castTo(dt));
    }
    List<String> missing = new ArrayList<>();
    for (String k : w.named.keySet()) {
      if (!seen.contains(k)) {
        missing.add(k);
      }
    }
    if (!missing.isEmpty()) {
      throw new IllegalArgumentException("missing adapter tensors " + missing + "; HINT: target_modules in "
          + "adapter_config.json selects more modules than adapter_model.safetensors holds");
    }
    return w;
  }

  /** Every factor under its PEFT name, in forward order (writable). */
  Map<String, INDArray> named() {
    return Collections.unmodifiableMap(named);
  }
}
