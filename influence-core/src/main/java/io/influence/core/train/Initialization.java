package io.influence.core.train;

import io.influence.checkpoints.Gpt2Config;
import io.influence.checkpoints.LlamaConfig;
import io.influence.checkpoints.ModelConfig;
import io.influence.core.model.CausalLm;
import io.influence.core.model.Gpt2Model;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Initialisation for a model trained from scratch, seeded so a run is reproducible.
 *
 * <p>GPT-2: weights and embeddings drawn from N(0, 0.02²), the residual output projections
 * ({@code attn.c_proj}, {@code mlp.c_proj}) from N(0, (0.02/√(2·n_layer))²) as in the GPT-2 paper,
 * biases zero, LayerNorm gains one.
 *
 * <p>Llama family: the same rule with the family's names (residual outputs {@code o_proj} and
 * {@code down_proj}), RMSNorm gains one (also {@code q_norm}/{@code k_norm}), biases zero, an untied
 * {@code lm_head} from N(0, 0.02²).
 */
public final class Initialization {

  private Initialization() {}

  /** The family's initialisation for {@code config}. */
  public static CausalLm of(ModelConfig config, long seed, DataType dataType) {
    if (config instanceof Gpt2Config g) {
      return gpt2(g, seed, dataType);
    }
    return llama((LlamaConfig) config, seed, dataType);
  }

  public static CausalLm llama(LlamaConfig config, long seed, DataType dataType) {
    SplittableRandom random = new SplittableRandom(seed);
    int h = config.hiddenSize();
    int q = config.numAttentionHeads() * config.headDim();
    int kv = config.numKeyValueHeads() * config.headDim();
    int m = config.intermediateSize();
    double residual = 0.02 / Math.sqrt(2.0 * config.numHiddenLayers());
    boolean qkvBias = config.qkvBias();
    boolean oBias = config.outputBias();
    Map<String, INDArray> t = new LinkedHashMap<>();
    t.put("model.embed_tokens.weight", normal(random, 0.02, config.vocabSize(), h));
    for (int i = 0; i < config.numHiddenLayers(); i++) {
      String p = "model.layers." + i + ".";
      t.put(p + "input_layernorm.weight", Nd4j.ones(DataType.FLOAT, h));
      linear(t, random, p + "self_attn.q_proj", q, h, 0.02, qkvBias);
      linear(t, random, p + "self_attn.k_proj", kv, h, 0.02, qkvBias);
      linear(t, random, p + "self_attn.v_proj", kv, h, 0.02, qkvBias);
      linear(t, random, p + "self_attn.o_proj", h, q, residual, oBias);
      if (config.qkNorm()) {
        t.put(p + "self_attn.q_norm.weight", Nd4j.ones(DataType.FLOAT, config.headDim()));
        t.put(p + "self_attn.k_norm.weight", Nd4j.ones(DataType.FLOAT, config.headDim()));
      }
      t.put(p + "post_attention_layernorm.weight", Nd4j.ones(DataType.FLOAT, h));
      linear(t, random, p + "mlp.gate_proj", m, h, 0.02, config.mlpBias());
      linear(t, random, p + "mlp.up_proj", m, h, 0.02, config.mlpBias());
      linear(t, random, p + "mlp.down_proj", h, m, residual, config.mlpBias());
    }
    t.put("model.norm.weight", Nd4j.ones(DataType.FLOAT, h));
    if (!config.tieWordEmbeddings()) {
      t.put("lm_head.weight", normal(random, 0.02, config.vocabSize(), h));
    }
    return CausalLm.fromTensors(config, t, dataType);
  }

  /** An {@code nn.Linear} weight {@code [out, in]} from N(0, std²), and a zero bias when it has one. */
  private static void linear(Map<String, INDArray> t, SplittableRandom random, String name, int out, int in,
                             double std, boolean bias) {
    t.put(name + ".weight", normal(random, std, out, in));
    if (bias) {
      t.put(name + ".bias", Nd4j.zeros(DataType.FLOAT, out));
    }
  }

  public static Gpt2Model gpt2(Gpt2Config config, long seed, DataType dataType) {
    SplittableRandom random = new SplittableRandom(seed);
    int c = config.nEmbd();
    double residual = 0.02 / Math.sqrt(2.0 * config.nLayer());
    Map<String, INDArray> t = new LinkedHashMap<>();
    t.put("wte.weight", normal(random, 0.02, config.vocabSize(), c));
    t.put("wpe.weight", normal(random, 0.01, config.nPositions(), c));
    for (int i = 0; i < config.nLayer(); i++) {
      String p = "h." + i + ".";
      t.put(p + "ln_1.weight", Nd4j.ones(DataType.FLOAT, c));
      t.put(p + "ln_1.bias", Nd4j.zeros(DataType.FLOAT, c));
      t.put(p + "attn.c_attn.weight", normal(random, 0.02, c, 3 * c));
      t.put(p + "attn.c_attn.bias", Nd4j.zeros(DataType.FLOAT, 3L * c));
      t.put(p + "attn.c_proj.weight", normal(random, residual, c, c));
      t.put(p + "attn.c_proj.bias", Nd4j.zeros(DataType.FLOAT, c));
      t.put(p + "ln_2.weight", Nd4j.ones(DataType.FLOAT, c));
      t.put(p + "ln_2.bias", Nd4j.zeros(DataType.FLOAT, c));
      t.put(p + "mlp.c_fc.weight", normal(random, 0.02, c, 4 * c));
      t.put(p + "mlp.c_fc.bias", Nd4j.zeros(DataType.FLOAT, 4L * c));
      t.put(p + "mlp.c_proj.weight", normal(random, residual, 4 * c, c));
      t.put(p + "mlp.c_proj.bias", Nd4j.zeros(DataType.FLOAT, c));
    }
    t.put("ln_f.weight", Nd4j.ones(DataType.FLOAT, c));
    t.put("ln_f.bias", Nd4j.zeros(DataType.FLOAT, c));
    return Gpt2Model.fromTensors(config, t, dataType);
  }

  private static INDArray normal(SplittableRandom random, double std, int rows, int cols) {
    float[] v = new float[rows * cols];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) (std * gaussian(random));
    }
    return Nd4j.create(v, new long[] {rows, cols}, 'c');
  }

  /** Box–Muller on SplittableRandom (java.util.Random's nextGaussian is not splittable-seeded). */
  private static double gaussian(SplittableRandom random) {
    double u = 1.0 - random.nextDouble();
    double v = random.nextDouble();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}
