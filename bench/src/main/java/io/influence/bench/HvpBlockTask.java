package io.influence.bench;

import io.influence.checkpoints.Gpt2Config;
import io.influence.core.hvp.GaussNewtonOperator;
import io.influence.core.hvp.TrainingSequences;
import io.influence.core.model.CausalLm;
import io.influence.core.model.TokenBatch;
import io.influence.core.score.LayerLayout;
import io.influence.core.train.Initialization;
import io.influence.spark.config.BlasThreads;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Gauss-Newton-vector products for a block of query vectors (what every CG or LiSSA iteration of the score stage
 * costs per partition), two ways on the same float64 GPT-2, sequences and vectors:
 * <ul>
 *   <li>{@code recompute}: one vector at a time, each product running its own forward passes per batch (a forward
 *       pass for {@code J v}, another for {@code Jᵀ r}, the softmax per vector): how the operator worked before
 *       {@code CausalLm.hold};</li>
 *   <li>{@code block}: {@link GaussNewtonOperator} on the whole block: one forward pass and one softmax per batch, then
 *       a tangent and a backward pass per vector.</li>
 * </ul>
 * Reports seconds per vector product of each, their ratio, and the largest relative difference between the two
 * results (they are the same products: rounding only).
 *
 * <p>Model: a seeded random GPT-2 (timing needs shapes, not a trained model). Keys: {@code -P width=} (quick 64,
 * full 128), {@code layers=} (2, 4), {@code vocab=} (512, 8192), {@code ctx=} (48, 64), {@code rows=} (8, 32),
 * {@code vectors=} (8, 60), {@code batch=} (8, 8), {@code threads=} (1, 1: BLAS threads). Tracked layers: every
 * linear layer.
 */
final class HvpBlockTask implements BenchTask {

  @Override
  public String name() {
    return "hvp-block";
  }

  @Override
  public String kind() {
    return "speed";
  }

  @Override
  public String description() {
    return "Gauss-Newton products of a block of vectors: one forward pass per batch for the block vs forward passes "
        + "per vector";
  }

  @Override
  public BenchResult run(BenchOptions o) throws Exception {
    int width = o.intParam("width", 64, 128);
    int layers = o.intParam("layers", 2, 4);
    int vocab = o.intParam("vocab", 512, 8192);
    int ctx = o.intParam("ctx", 48, 64);
    int rows = o.intParam("rows", 8, 32);
    int vectors = o.intParam("vectors", 8, 60);
    int batch = o.intParam("batch", 8, 8);
    BenchResult.Builder b = BenchResult.of(name());
    b.note(MachineLoad.now() + " at start");
    try (BlasThreads threads = BlasThreads.set(o.intParam("threads", 1, 1))) {
      CausalLm model = Initialization.gpt2(new Gpt2Config(vocab, ctx, width, layers, Math.max(1, width / 32), 1e-5,
          "gelu_new"), o.seed(), DataType.DOUBLE);
      SplittableRandom random = new SplittableRandom(o.seed() + 1);
      List<int[]> tokens = new ArrayList<>();
      for (int i = 0; i < rows; i++) {
        int[] t = new int[ctx / 2 + random.nextInt(ctx / 2 + 1)];
        for (int k = 0; k < t.length; k++) {
          t[k] = random.nextInt(vocab);
        }
        tokens.add(t);
      }
      TrainingSequences data = TrainingSequences.of(tokens, batch);
      List<String> tracked = model.linearLayers();
      GaussNewtonOperator g = GaussNewtonOperator.create(model, tracked, data);
      double[][] vs = new double[vectors][g.dim()];
      for (double[] v : vs) {
        for (int i = 0; i < v.length; i++) {
          v[i] = random.nextGaussian();
        }
      }
      double[][] block = new double[vectors][g.dim()];
      double[][] recomputed = new double[vectors][g.dim()];
      g.apply(new double[][] {vs[0]}, new double[][] {block[0]});   // warm-up: buffers, JIT
      long t0 = System.nanoTime();
      for (int j = 0; j < vectors; j++) {
        recompute(model, g.layout(), data, vs[j], recomputed[j]);
      }
      double recomputeSeconds = (System.nanoTime() - t0) / 1e9;
      t0 = System.nanoTime();
      g.apply(vs, block);
      double blockSeconds = (System.nanoTime() - t0) / 1e9;
      double diff = 0;
      for (int j = 0; j < vectors; j++) {
        diff = Math.max(diff, relativeDifference(recomputed[j], block[j]));
      }
      b.metric("recompute_s_per_vector", recomputeSeconds / vectors);
      b.metric("block_s_per_vector", blockSeconds / vectors);
      b.metric("speedup", recomputeSeconds / blockSeconds);
      b.atMost("max_relative_difference", diff, 1e-10);
      b.note(String.format(Locale.ROOT, "GPT-2 %d layers, width %d, vocab %d, context %d (float64, random weights); "
              + "%d sequences in batches of %d; %d vectors over all %d linear layers (%d parameters); %d BLAS thread(s)",
          layers, width, vocab, ctx, rows, batch, vectors, tracked.size(), g.dim(), o.intParam("threads", 1, 1)));
    }
    b.note(MachineLoad.now() + " at end");
    return b.build();
  }

  /** {@code out = G v} the way the operator worked before the hold: forward passes per vector and batch. */
  private static void recompute(CausalLm model, LayerLayout layout, TrainingSequences data, double[] v,
      double[] out) {
    Map<String, INDArray> tangents = layout.fromVector(v, DataType.DOUBLE);
    java.util.Arrays.fill(out, 0);
    for (TokenBatch tb : data.batches()) {
      double[] u = model.logitTangents(tb, tangents).data().asDouble();
      Map<String, INDArray> grads = model.parameterGradientsFromLogits(tb, z -> gaussNewtonRows(z, u, tb));
      for (String l : layout.layers()) {
        model.linear(l).addTo(grads, 1.0 / data.size(), out, layout.offset(l));
      }
    }
  }

  /** {@code H_out u = p ⊙ (u − pᵀu)} at every counted position, with the softmax {@code p} of these logits. */
  private static INDArray gaussNewtonRows(INDArray logits, double[] u, TokenBatch tb) {
    double[] z = logits.dup('c').castTo(DataType.DOUBLE).data().asDouble();
    int seqLen = (int) logits.size(1);
    int vocab = (int) logits.size(2);
    double[] r = new double[z.length];
    double[] p = new double[vocab];
    for (int i = 0; i < tb.size(); i++) {
      for (int t = 0; t < seqLen; t++) {
        if (!tb.counts(i, t + 1)) {
          continue;
        }
        int base = (i * seqLen + t) * vocab;
        double max = Double.NEGATIVE_INFINITY;
        double sum = 0;
        double pu = 0;
        for (int k = 0; k < vocab; k++) {
          max = Math.max(max, z[base + k]);
        }
        for (int k = 0; k < vocab; k++) {
          p[k] = Math.exp(z[base + k] - max);
          sum += p[k];
        }
        for (int k = 0; k < vocab; k++) {
          p[k] /= sum;
          pu += p[k] * u[base + k];
        }
        for (int k = 0; k < vocab; k++) {
          r[base + k] = p[k] * (u[base + k] - pu);
        }
      }
    }
    return org.nd4j.linalg.factory.Nd4j.create(r, new long[] {tb.size(), seqLen, vocab}, 'c');
  }

  private static double relativeDifference(double[] a, double[] b) {
    double d = 0;
    double m = 0;
    for (int i = 0; i < a.length; i++) {
      d = Math.max(d, Math.abs(a[i] - b[i]));
      m = Math.max(m, Math.abs(a[i]));
    }
    return m == 0 ? d : d / m;
  }
}
