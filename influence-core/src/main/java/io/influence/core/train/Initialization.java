package io.influence.core.train;

import io.influence.checkpoints.Gpt2Config;
import io.influence.core.model.Gpt2Model;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * GPT-2's initialisation for a model trained from scratch: weights and embeddings drawn from
 * N(0, 0.02²), the residual output projections ({@code attn.c_proj}, {@code mlp.c_proj}) from
 * N(0, (0.02/√(2·n_layer))²) as in the GPT-2 paper, biases zero, LayerNorm gains one. Seeded, so
 * a run is reproducible.
 */
public final class Initialization {

  private Initialization() {}

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
