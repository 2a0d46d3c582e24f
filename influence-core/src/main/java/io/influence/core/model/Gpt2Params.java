package io.influence.core.model;

import io.influence.checkpoints.Gpt2Config;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The parameters of a GPT-2 (or a same-shaped gradient), stored the way the kernels want them.
 *
 * <p>Storage (all column-major, see {@link Blas}):
 * <ul>
 *   <li>{@code wte} 'c' {@code [V, C]} (Hugging Face layout); the kernels use its transpose view
 *       {@code [C, V]} (column {@code v} = embedding of token {@code v}). Same for {@code wpe}.
 *   <li>each Conv1D as one augmented matrix {@code W̃} 'f' {@code [dOut, dIn + 1]}: the first
 *       {@code dIn} columns are the weight, the last column is the bias, so {@code s = W̃ [a; 1]}.
 *       Hugging Face's Conv1D weight is {@code [dIn, dOut]} row-major, which is exactly
 *       {@code [dOut, dIn]} column-major: the HF weight is the transpose of {@code W̃[:, :dIn]}
 *       and occupies the first {@code dIn·dOut} entries of {@code W̃}'s buffer, the bias the last
 *       {@code dOut}. Per-example gradients {@code G = gᵀa} are {@code [dOut, dIn+1]} in this
 *       orientation; the HF weight gradient is {@code G[:, :dIn]ᵀ} and the bias gradient {@code G[:, dIn]}.
 *   <li>LayerNorm weights and biases as {@code [C]} vectors.
 * </ul>
 * {@link #named()} exposes every tensor under its Hugging Face name (without the
 * {@code transformer.} prefix) as a view in the Hugging Face shape, so loading
 * ({@link #fromTensors}), saving, optimiser updates and gradient checks all go through one map.
 */
final class Gpt2Params {

  static final String[] LINEARS = {"attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"};
  private static final Pattern MASK_BUFFER = Pattern.compile("h\\.\\d+\\.attn\\.(bias|masked_bias)");

  final Gpt2Config config;
  final DataType dataType;
  final INDArray wte;   // 'c' [V, C]
  final INDArray wpe;   // 'c' [P, C]
  final INDArray[] ln1g, ln1b, ln2g, ln2b;
  final INDArray[] attn, proj, fc, mproj; // 'f' [dOut, dIn + 1]
  final INDArray lnfg, lnfb;
  private final Map<String, INDArray> named = new LinkedHashMap<>();
  private final Map<String, INDArray> linears = new LinkedHashMap<>();

  /** Zero-filled parameters (or gradient accumulators) for {@code config}. */
  Gpt2Params(Gpt2Config config, DataType dataType) {
    this.config = config;
    this.dataType = dataType;
    int c = config.nEmbd();
    int l = config.nLayer();
    wte = Nd4j.create(dataType, new long[] {config.vocabSize(), c}, 'c');
    wpe = Nd4j.create(dataType, new long[] {config.nPositions(), c}, 'c');
    ln1g = new INDArray[l];
    ln1b = new INDArray[l];
    ln2g = new INDArray[l];
    ln2b = new INDArray[l];
    attn = new INDArray[l];
    proj = new INDArray[l];
    fc = new INDArray[l];
    mproj = new INDArray[l];
    named.put("wte.weight", wte);
    named.put("wpe.weight", wpe);
    for (int i = 0; i < l; i++) {
      ln1g[i] = Nd4j.create(dataType, c);
      ln1b[i] = Nd4j.create(dataType, c);
      ln2g[i] = Nd4j.create(dataType, c);
      ln2b[i] = Nd4j.create(dataType, c);
      attn[i] = Nd4j.create(dataType, new long[] {3L * c, c + 1}, 'f');
      proj[i] = Nd4j.create(dataType, new long[] {c, c + 1}, 'f');
      fc[i] = Nd4j.create(dataType, new long[] {4L * c, c + 1}, 'f');
      mproj[i] = Nd4j.create(dataType, new long[] {c, 4L * c + 1}, 'f');
      String p = "h." + i + ".";
      named.put(p + "ln_1.weight", ln1g[i]);
      named.put(p + "ln_1.bias", ln1b[i]);
      linear(p + "attn.c_attn", attn[i]);
      linear(p + "attn.c_proj", proj[i]);
      named.put(p + "ln_2.weight", ln2g[i]);
      named.put(p + "ln_2.bias", ln2b[i]);
      linear(p + "mlp.c_fc", fc[i]);
      linear(p + "mlp.c_proj", mproj[i]);
    }
    lnfg = Nd4j.create(dataType, c);
    lnfb = Nd4j.create(dataType, c);
    named.put("ln_f.weight", lnfg);
    named.put("ln_f.bias", lnfb);
  }

  /**
   * Parameters copied from Hugging Face-named tensors in Hugging Face shapes. The
   * {@code transformer.} prefix is stripped; {@code lm_head.weight} (tied to {@code wte.weight}) is
   * shape-checked and ignored, and so are the causal-mask buffers {@code h.{i}.attn.bias} /
   * {@code h.{i}.attn.masked_bias}. Every parameter must be given exactly once, in its shape, finite.
   *
   * @throws IllegalArgumentException naming the tensor, with a HINT, for anything else
   */
  static Gpt2Params fromTensors(Gpt2Config config, Map<String, INDArray> tensors, DataType dataType) {
    Gpt2Params p = new Gpt2Params(config, dataType);
    Map<String, INDArray> views = p.named();
    Set<String> seen = new TreeSet<>();
    for (Map.Entry<String, INDArray> e : tensors.entrySet()) {
      String name = e.getKey();
      String key = name.startsWith("transformer.") ? name.substring("transformer.".length()) : name;
      INDArray value = e.getValue();
      if (MASK_BUFFER.matcher(key).matches()) {
        continue;
      }
      if (key.equals("lm_head.weight")) {
        long[] expected = {config.vocabSize(), config.nEmbd()};
        if (!Arrays.equals(value.shape(), expected)) {
          throw new IllegalArgumentException("tensor " + name + " has shape " + Arrays.toString(value.shape())
              + ", expected " + Arrays.toString(expected) + " (tied to wte.weight); HINT: check config.json");
        }
        continue;
      }
      INDArray target = views.get(key);
      if (target == null) {
        throw new IllegalArgumentException("unknown tensor " + name + " for a GPT-2 with " + config.nLayer()
            + " layers; HINT: expected Hugging Face GPT-2 names such as h.0.attn.c_attn.weight (optionally with "
            + "the transformer. prefix); check n_layer in config.json");
      }
      if (!seen.add(key)) {
        throw new IllegalArgumentException("tensor " + key + " is given twice (with and without the transformer. prefix)");
      }
      if (!Arrays.equals(value.shape(), target.shape())) {
        throw new IllegalArgumentException("tensor " + name + " has shape " + Arrays.toString(value.shape())
            + ", expected " + Arrays.toString(target.shape()) + " from config (n_embd=" + config.nEmbd() + ", vocab_size="
            + config.vocabSize() + ", n_positions=" + config.nPositions() + "); HINT: Conv1D weights are [in, out]; "
            + "check config.json against the tensors");
      }
      if (!Elementwise.allFinite(value)) {
        throw new IllegalArgumentException("tensor " + name + " contains NaN or Inf; HINT: the checkpoint is corrupt "
            + "or training diverged");
      }
      target.assign(value.castTo(dataType));
    }
    List<String> missing = new ArrayList<>();
    for (String k : views.keySet()) {
      if (!seen.contains(k)) {
        missing.add(k);
      }
    }
    if (!missing.isEmpty()) {
      throw new IllegalArgumentException("missing tensors " + missing + "; HINT: a GPT-2 with n_layer="
          + config.nLayer() + " needs all of " + views.keySet().size() + " parameters");
    }
    return p;
  }

  /** The block index of a tracked layer name: 3 for {@code h.3.mlp.c_fc}. */
  static int blockOf(String layer) {
    return Integer.parseInt(layer.substring(2, layer.indexOf('.', 2)));
  }

  /** The kind of a tracked layer name, one of {@link #LINEARS}: {@code mlp.c_fc} for {@code h.3.mlp.c_fc}. */
  static String kindOf(String layer) {
    return layer.substring(layer.indexOf('.', 2) + 1);
  }

  private void linear(String name, INDArray aug) {
    long dIn = aug.columns() - 1;
    linears.put(name, aug);
    named.put(name + ".weight", aug.get(NDArrayIndex.all(), NDArrayIndex.interval(0, dIn)).transpose());
    named.put(name + ".bias", aug.get(NDArrayIndex.all(), NDArrayIndex.point(dIn)));
  }

  /** Every tensor under its Hugging Face name, as a view in the Hugging Face shape (writable). */
  Map<String, INDArray> named() {
    return Collections.unmodifiableMap(named);
  }

  /** Tracked-layer name ({@code h.{i}.attn.c_attn}, ...) to its augmented {@code [dOut, dIn+1]} matrix. */
  Map<String, INDArray> linears() {
    return Collections.unmodifiableMap(linears);
  }

  void zero() {
    for (INDArray a : storage()) {
      a.assign(0);
    }
  }

  /** The backing arrays (not views), for whole-buffer operations. */
  List<INDArray> storage() {
    List<INDArray> out = new ArrayList<>();
    out.add(wte);
    out.add(wpe);
    for (int i = 0; i < config.nLayer(); i++) {
      out.add(ln1g[i]);
      out.add(ln1b[i]);
      out.add(attn[i]);
      out.add(proj[i]);
      out.add(ln2g[i]);
      out.add(ln2b[i]);
      out.add(fc[i]);
      out.add(mproj[i]);
    }
    out.add(lnfg);
    out.add(lnfb);
    return out;
  }
}
