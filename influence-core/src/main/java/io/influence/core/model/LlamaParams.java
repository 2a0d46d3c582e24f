package io.influence.core.model;

import io.influence.checkpoints.LlamaConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The parameters of a Llama-family model (or a same-shaped gradient), stored the way the kernels
 * want them, and exposed under Hugging Face names in Hugging Face shapes.
 *
 * <p>Storage (column-major, see {@link Blas}):
 * <ul>
 *   <li>{@code embed} 'c' {@code [V, C]} ({@code model.embed_tokens.weight}); {@code head} 'c'
 *       {@code [V, C]} ({@code lm_head.weight}) is the same array when the embeddings are tied;
 *   <li>each projection ({@link Proj}) of each block as one matrix {@code W̃} 'f' {@code [dOut, dIn]},
 *       or {@code [dOut, dIn + 1]} with the bias as last column when the layer has one, so
 *       {@code s = W̃ [a; 1]}. This is the {@link LinearLayer} orientation; the Hugging Face weight
 *       {@code [dOut, dIn]} is the view {@code W̃[:, :dIn]};
 *   <li>RMSNorm weights as vectors: {@code input_layernorm}, {@code post_attention_layernorm}
 *       {@code [C]}, qwen3's {@code q_norm}, {@code k_norm} {@code [head_dim]}, {@code model.norm} {@code [C]}.
 * </ul>
 */
final class LlamaParams {

  /** The seven projections of a block, in forward order. */
  enum Proj {
    Q("self_attn.q_proj"), K("self_attn.k_proj"), V("self_attn.v_proj"), O("self_attn.o_proj"),
    GATE("mlp.gate_proj"), UP("mlp.up_proj"), DOWN("mlp.down_proj");

    final String suffix;

    Proj(String suffix) {
      this.suffix = suffix;
    }

    /** The module's last name component ({@code q_proj}), as PEFT's target_modules spell it. */
    String shortName() {
      return suffix.substring(suffix.indexOf('.') + 1);
    }
  }

  /** Non-persistent buffers some exporters save; ignored on load. */
  private static final Pattern BUFFERS = Pattern.compile("model\\.(layers\\.\\d+\\.self_attn\\.)?rotary_emb\\.inv_freq");

  final LlamaConfig config;
  final DataType dataType;
  final INDArray embed;     // 'c' [V, C]
  final INDArray head;      // 'c' [V, C]; == embed when tied
  final INDArray[] ln1, ln2, qNorm, kNorm;
  final INDArray[][] lin;   // [Proj][layer] 'f' [dOut, dIn (+1)]
  final INDArray norm;
  private final Map<String, INDArray> named = new LinkedHashMap<>();

  /** Zero-filled parameters (or gradient accumulators) for {@code config}. */
  LlamaParams(LlamaConfig config, DataType dataType) {
    this.config = config;
    this.dataType = dataType;
    int c = config.hiddenSize();
    int layers = config.numHiddenLayers();
    embed = Nd4j.create(dataType, new long[] {config.vocabSize(), c}, 'c');
    named.put("model.embed_tokens.weight", embed);
    ln1 = new INDArray[layers];
    ln2 = new INDArray[layers];
    qNorm = new INDArray[layers];
    kNorm = new INDArray[layers];
    lin = new INDArray[Proj.values().length][layers];
    for (int l = 0; l < layers; l++) {
      String p = "model.layers." + l + ".";
      ln1[l] = Nd4j.create(dataType, c);
      named.put(p + "input_layernorm.weight", ln1[l]);
      for (Proj k : Proj.values()) {
        if (k == Proj.GATE) {
          ln2[l] = Nd4j.create(dataType, c);
          named.put(p + "post_attention_layernorm.weight", ln2[l]);
        }
        int dIn = dIn(config, k);
        lin[k.ordinal()][l] = Nd4j.create(dataType, new long[] {dOut(config, k), dIn + (hasBias(config, k) ? 1 : 0)}, 'f');
        String name = p + k.suffix;
        named.put(name + ".weight", lin[k.ordinal()][l].get(NDArrayIndex.all(), NDArrayIndex.interval(0, dIn)));
        if (hasBias(config, k)) {
          named.put(name + ".bias", lin[k.ordinal()][l].get(NDArrayIndex.all(), NDArrayIndex.point(dIn)));
        }
        if (k == Proj.V && config.qkNorm()) {
          qNorm[l] = Nd4j.create(dataType, config.headDim());
          kNorm[l] = Nd4j.create(dataType, config.headDim());
          named.put(p + "self_attn.q_norm.weight", qNorm[l]);
          named.put(p + "self_attn.k_norm.weight", kNorm[l]);
        }
      }
    }
    norm = Nd4j.create(dataType, c);
    named.put("model.norm.weight", norm);
    if (config.tieWordEmbeddings()) {
      head = embed;
    } else {
      head = Nd4j.create(dataType, new long[] {config.vocabSize(), c}, 'c');
      named.put("lm_head.weight", head);
    }
  }

  static int dIn(LlamaConfig cfg, Proj p) {
    return switch (p) {
      case O -> cfg.numAttentionHeads() * cfg.headDim();
      case DOWN -> cfg.intermediateSize();
      default -> cfg.hiddenSize();
    };
  }

  static int dOut(LlamaConfig cfg, Proj p) {
    return switch (p) {
      case Q -> cfg.numAttentionHeads() * cfg.headDim();
      case K, V -> cfg.numKeyValueHeads() * cfg.headDim();
      case O, DOWN -> cfg.hiddenSize();
      case GATE, UP -> cfg.intermediateSize();
    };
  }

  static boolean hasBias(LlamaConfig cfg, Proj p) {
    return switch (p) {
      case Q, K, V -> cfg.qkvBias();
      case O -> cfg.outputBias();
      default -> cfg.mlpBias();
    };
  }

  /** {@code model.layers.3.mlp.up_proj} for block 3's {@link Proj#UP}. */
  static String layerName(int layer, Proj p) {
    return "model.layers." + layer + "." + p.suffix;
  }

  /** {@code {block, Proj ordinal}} of a tracked-layer name, or null when it is not one of this config's. */
  static int[] parseLayer(LlamaConfig cfg, String name) {
    String prefix = "model.layers.";
    if (!name.startsWith(prefix)) {
      return null;
    }
    int dot = name.indexOf('.', prefix.length());
    if (dot < 0) {
      return null;
    }
    int l;
    try {
      l = Integer.parseInt(name.substring(prefix.length(), dot));
    } catch (NumberFormatException e) {
      return null;
    }
    if (l < 0 || l >= cfg.numHiddenLayers() || !name.substring(prefix.length(), dot).equals(Integer.toString(l))) {
      return null;
    }
    String rest = name.substring(dot + 1);
    for (Proj p : Proj.values()) {
      if (p.suffix.equals(rest)) {
        return new int[] {l, p.ordinal()};
      }
    }
    return null;
  }

  /**
   * Parameters copied from Hugging Face-named tensors in Hugging Face shapes. Every parameter must be
   * given exactly once, in its shape, finite. The rotary {@code inv_freq} buffers are ignored.
   * {@code lm_head.weight} of a tied model is accepted only when it equals {@code model.embed_tokens.weight}
   * (some exporters save both); a different one is refused, since a tied model cannot use it.
   *
   * @throws IllegalArgumentException naming the tensor, with a HINT, for anything else
   */
  static LlamaParams fromTensors(LlamaConfig config, Map<String, INDArray> tensors, DataType dataType) {
    LlamaParams p = new LlamaParams(config, dataType);
    Map<String, INDArray> views = p.named();
    INDArray tiedHead = null;
    TreeSet<String> seen = new TreeSet<>();
    for (Map.Entry<String, INDArray> e : tensors.entrySet()) {
      String name = e.getKey();
      INDArray value = e.getValue();
      if (BUFFERS.matcher(name).matches()) {
        continue;
      }
      INDArray target = views.get(name);
      if (target == null && name.equals("lm_head.weight") && config.tieWordEmbeddings()) {
        target = p.embed;
        tiedHead = value;
      } else if (target == null) {
        throw new IllegalArgumentException("unknown tensor " + name + " for a " + config.modelType() + " with "
            + config.numHiddenLayers() + " layers" + describe(config) + "; HINT: expected Hugging Face names such as "
            + "model.layers.0.self_attn.q_proj.weight; check num_hidden_layers, attention_bias, mlp_bias and "
            + "model_type in config.json");
      } else if (!seen.add(name)) {
        throw new IllegalArgumentException("tensor " + name + " is given twice");
      }
      if (!Arrays.equals(value.shape(), target.shape())) {
        throw new IllegalArgumentException("tensor " + name + " has shape " + Arrays.toString(value.shape())
            + ", expected " + Arrays.toString(target.shape()) + " from config (hidden_size=" + config.hiddenSize()
            + ", intermediate_size=" + config.intermediateSize() + ", heads=" + config.numAttentionHeads() + ", kv heads="
            + config.numKeyValueHeads() + ", head_dim=" + config.headDim() + ", vocab_size=" + config.vocabSize()
            + "); HINT: nn.Linear weights are [out, in]; check config.json against the tensors");
      }
      if (!Elementwise.allFinite(value)) {
        throw new IllegalArgumentException("tensor " + name + " contains NaN or Inf; HINT: the checkpoint is corrupt "
            + "or training diverged");
      }
      if (value != tiedHead) {
        target.assign(value.castTo(dataType));
      }
    }
    List<String> missing = new ArrayList<>();
    for (String k : views.keySet()) {
      if (!seen.contains(k)) {
        missing.add(k);
      }
    }
    if (!missing.isEmpty()) {
      throw new IllegalArgumentException("missing tensors " + missing + "; HINT: a " + config.modelType() + " with "
          + "num_hidden_layers=" + config.numHiddenLayers() + describe(config) + " needs all of " + views.size()
          + " parameters; check config.json");
    }
    if (tiedHead != null && !Arrays.equals(doubles(tiedHead.castTo(dataType)), doubles(p.embed))) {
      throw new IllegalArgumentException("tensor lm_head.weight differs from model.embed_tokens.weight although "
          + "tie_word_embeddings is true; HINT: set tie_word_embeddings to false in config.json if the head is separate");
    }
    return p;
  }

  private static double[] doubles(INDArray a) {
    return a.dup('c').castTo(DataType.DOUBLE).data().asDouble();
  }

  private static String describe(LlamaConfig c) {
    return " (q/k/v bias " + c.qkvBias() + ", o_proj bias " + c.outputBias() + ", mlp bias " + c.mlpBias()
        + ", q/k norm " + c.qkNorm() + ", tied head " + c.tieWordEmbeddings() + ")";
  }

  /** Every tensor under its Hugging Face name, as a view in the Hugging Face shape (writable). */
  Map<String, INDArray> named() {
    return Collections.unmodifiableMap(named);
  }
}
