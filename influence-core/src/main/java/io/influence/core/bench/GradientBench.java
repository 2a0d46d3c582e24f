package io.influence.core.bench;

import io.influence.checkpoints.Gpt2Config;
import io.influence.core.model.BatchGradients;
import io.influence.core.model.GradientRequest;
import io.influence.core.model.Gpt2Model;
import io.influence.core.model.KroneckerProjection;
import io.influence.core.model.TokenBatch;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Per-example gradient extraction throughput, on the same model and batch as the PyTorch
 * reference's {@code torch_gpt2.py bench} (4 layers, width 256, 4 heads, vocab 4096, sequence
 * 128, batch 8; 2 warm-up and 5 timed steps), in two modes: full per-example gradients of every
 * Conv1D, and rank-32-per-side Kronecker-projected ones. It also measures float32 GEMM peak in the
 * same process ({@code Nd4j.gemm} 1024² into a preallocated 'f' output, best of 8 × 5 calls, at the
 * start and again right before each mode) and prints, per mode, the
 * time per phase; the last line is one JSON object. {@code linear_gflops_per_s} follows the
 * reference's definition: {@code 6 × (Conv1D weights in the blocks) × tokens / s}.
 *
 * <p>Run from the repository root: {@code bin/bench-gradients} (sets OMP_NUM_THREADS=2).
 * Options: {@code --steps N --warmup N --rank R --batch B --seq T}.
 */
public final class GradientBench {

  private GradientBench() {}

  public static void main(String[] args) {
    int steps = 5;
    int warmup = 2;
    int rank = 32;
    int batch = 8;
    int seq = 128;
    for (int i = 0; i < args.length; i += 2) {
      int v = Integer.parseInt(args[i + 1]);
      switch (args[i]) {
        case "--steps" -> steps = v;
        case "--warmup" -> warmup = v;
        case "--rank" -> rank = v;
        case "--batch" -> batch = v;
        case "--seq" -> seq = v;
        default -> throw new IllegalArgumentException("unknown option " + args[i]
            + "; HINT: --steps N --warmup N --rank R --batch B --seq T");
      }
    }
    Gpt2Config cfg = new Gpt2Config(4096, seq, 256, 4, 4, 1e-5, "gelu_new");
    Gpt2Model model = randomModel(cfg, 0L);
    model.reusePerExampleBuffers(true); // each batch is consumed (checksummed) before the next
    Random rnd = new Random(0);
    int[][] tokens = new int[batch][seq];
    for (int[] t : tokens) {
      for (int j = 0; j < seq; j++) {
        t[j] = rnd.nextInt(cfg.vocabSize());
      }
    }
    TokenBatch tb = new TokenBatch(tokens, null);
    double peak = gemmPeak();
    System.out.printf(Locale.ROOT, "float32 GEMM peak (Nd4j.gemm 1024^2, preallocated 'f'): %.1f GFLOP/s, OMP_NUM_THREADS=%s%n",
        peak, System.getenv("OMP_NUM_THREADS"));
    Map<String, KroneckerProjection> proj = model.projections(model.linearLayers(), rank, rank, 0L);
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("impl", "nd4j");
    json.put("linear_params", model.linearWeightCount());
    json.put("batch", batch);
    json.put("seq", seq);
    json.put("gemm_peak_gflops", round(peak));
    // the machine may be shared: measure the peak again right before each mode, under the same load
    json.put("full", run("full", model, tb, GradientRequest.perExampleFull(), warmup, steps, gemmPeak()));
    json.put("projected", run("projected rank " + rank, model, tb, GradientRequest.perExampleProjected(proj), warmup, steps,
        gemmPeak()));
    json.put("rank", rank);
    System.out.println(toJson(json));
  }

  private static Map<String, Object> run(String name, Gpt2Model model, TokenBatch tb, GradientRequest req,
                                         int warmup, int steps, double peak) {
    double sink = 0;
    for (int i = 0; i < warmup; i++) {
      sink += touch(model.gradients(tb, req));
    }
    model.resetTimings();
    long t0 = System.nanoTime();
    for (int i = 0; i < steps; i++) {
      sink += touch(model.gradients(tb, req));
    }
    double s = (System.nanoTime() - t0) / 1e9;
    long tokens = (long) tb.size() * tb.maxLength() * steps;
    double tps = tokens / s;
    double gflops = 6.0 * model.linearWeightCount() * tokens / s / 1e9;
    System.out.printf(Locale.ROOT, "%s: GEMM peak just before: %.1f GFLOP/s%n", name, peak);
    System.out.printf(Locale.ROOT, "%s: %.1f tokens/s, %.1f linear GFLOP/s (%.0f%% of peak), %.1f ms/step (checksum %.3g)%n",
        name, tps, gflops, 100 * gflops / peak, 1000 * s / steps, sink);
    model.timings().entrySet().stream().sorted(Map.Entry.<String, Double>comparingByValue().reversed())
        .forEach(e -> System.out.printf(Locale.ROOT, "  %-18s %7.1f ms/step (%4.1f%%)%n", e.getKey(),
            1000 * e.getValue() / steps, 100 * e.getValue() / s));
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("tokens_per_s", round(tps));
    m.put("examples_per_s", round(tb.size() * steps / s));
    m.put("linear_gflops_per_s", round(gflops));
    m.put("gemm_peak_gflops", round(peak));
    m.put("fraction_of_peak", Math.round(1000 * gflops / peak) / 1000.0);
    return m;
  }

  /** A cheap use of the outputs so nothing is optimised away. */
  private static double touch(BatchGradients g) {
    double s = 0;
    if (g.fullPerExample() != null) {
      s += g.fullPerExample().get(0).values().iterator().next().getDouble(0, 0);
    }
    if (g.projectedPerExample() != null) {
      s += g.projectedPerExample().get(0).values().iterator().next().getDouble(0, 0);
    }
    return s;
  }

  static Gpt2Model randomModel(Gpt2Config cfg, long seed) {
    Nd4j.getRandom().setSeed(seed);
    int c = cfg.nEmbd();
    Map<String, INDArray> t = new LinkedHashMap<>();
    t.put("wte.weight", Nd4j.randn(DataType.FLOAT, cfg.vocabSize(), c).muli(0.02));
    t.put("wpe.weight", Nd4j.randn(DataType.FLOAT, cfg.nPositions(), c).muli(0.02));
    for (int i = 0; i < cfg.nLayer(); i++) {
      String p = "h." + i + ".";
      t.put(p + "ln_1.weight", Nd4j.ones(DataType.FLOAT, c));
      t.put(p + "ln_1.bias", Nd4j.zeros(DataType.FLOAT, c));
      t.put(p + "ln_2.weight", Nd4j.ones(DataType.FLOAT, c));
      t.put(p + "ln_2.bias", Nd4j.zeros(DataType.FLOAT, c));
      linear(t, p + "attn.c_attn", c, 3 * c);
      linear(t, p + "attn.c_proj", c, c);
      linear(t, p + "mlp.c_fc", c, 4 * c);
      linear(t, p + "mlp.c_proj", 4 * c, c);
    }
    t.put("ln_f.weight", Nd4j.ones(DataType.FLOAT, c));
    t.put("ln_f.bias", Nd4j.zeros(DataType.FLOAT, c));
    return Gpt2Model.fromTensors(cfg, t, DataType.FLOAT);
  }

  private static void linear(Map<String, INDArray> t, String name, int in, int out) {
    t.put(name + ".weight", Nd4j.randn(DataType.FLOAT, in, out).muli(0.02));
    t.put(name + ".bias", Nd4j.zeros(DataType.FLOAT, out));
  }

  /** Best of several timed {@code Nd4j.gemm} 1024² calls into a preallocated 'f' output. */
  static double gemmPeak() {
    int n = 1024;
    INDArray a = Nd4j.rand(DataType.FLOAT, 'f', n, n);
    INDArray b = Nd4j.rand(DataType.FLOAT, 'f', n, n);
    INDArray c = Nd4j.create(DataType.FLOAT, new long[] {n, n}, 'f');
    double best = 0;
    for (int rep = 0; rep < 8; rep++) {
      long t0 = System.nanoTime();
      for (int i = 0; i < 5; i++) {
        Nd4j.gemm(a, b, c, false, false, 1.0, 0.0);
      }
      double s = (System.nanoTime() - t0) / 1e9;
      best = Math.max(best, 2.0 * n * n * n * 5 / s / 1e9);
    }
    return best;
  }

  private static double round(double v) {
    return Math.round(v * 10) / 10.0;
  }

  private static String toJson(Map<String, Object> m) {
    StringBuilder sb = new StringBuilder("{");
    for (Map.Entry<String, Object> e : m.entrySet()) {
      if (sb.length() > 1) {
        sb.append(", ");
      }
      sb.append('"').append(e.getKey()).append("\": ");
      Object v = e.getValue();
      if (v instanceof Map<?, ?> mm) {
        @SuppressWarnings("unchecked")
        Map<String, Object> sub = (Map<String, Object>) mm;
        sb.append(toJson(sub));
      } else if (v instanceof String s) {
        sb.append('"').append(s).append('"');
      } else {
        sb.append(v);
      }
    }
    return sb.append('}').toString();
  }
}
