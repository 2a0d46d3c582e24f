package io.influence.bench;

import io.influence.checkpoints.Gpt2Config;
import io.influence.checkpoints.LlamaConfig;
import io.influence.core.model.BatchGradients;
import io.influence.core.model.CausalLm;
import io.influence.core.model.GradientRequest;
import io.influence.core.model.KroneckerProjection;
import io.influence.core.model.TokenBatch;
import io.influence.core.train.Initialization;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Per-example gradient extraction throughput, on the same model and batch as a PyTorch reference's
 * {@code bench} ({@link Model}): GPT-2 as {@code torch_gpt2.py bench} (4 layers, width 256, 4 heads, vocab
 * 4096) or Llama as {@code torch_llama.py bench} (4 layers, hidden 256, intermediate 688, 4 heads, 2
 * key/value heads, vocab 4096, untied head); sequence 128, batch 8; 2 warm-up and 5 timed steps. Two
 * modes: full per-example gradients of every linear layer in the blocks, and rank-32-per-side
 * Kronecker-projected ones ({@code (P_out g)(P_in a)ᵀ}, the reference's {@code --rank 32}). It also measures float32 GEMM peak in the
 * same process ({@code Nd4j.gemm} 1024² into a preallocated 'f' output, best of 8 × 5 calls, at the
 * start and again right before each mode) and prints, per mode, the
 * time per phase; the last line is one JSON object. {@code linear_gflops_per_s} follows the
 * reference's definition: {@code 6 × (linear weights in the blocks) × tokens / s} (the head is not counted).
 *
 * <p>Run from the repository root: {@code bin/bench-gradients} (sets OMP_NUM_THREADS=2).
 * Options: {@code --model gpt2|llama --steps N --warmup N --rank R --batch B --seq T --peak-n N
 * --peak-rounds N --mode full|projected|both} (model default gpt2). {@code influence bench gradients} runs this main in a child JVM (so that
 * {@code OMP_NUM_THREADS}, which the element-wise kernels read once, is the thread count it states), next
 * to the PyTorch reference.
 */
public final class GradientBench {

  /** The model families measured, each on its reference's {@code bench} defaults, and the reference script. */
  public enum Model {
    GPT2("torch_gpt2.py", "GPT-2: 4 layers, width 256, 4 heads, vocab 4096"),
    LLAMA("torch_llama.py", "Llama: 4 layers, hidden 256, intermediate 688, 4 heads, 2 key/value heads, vocab 4096,"
        + " untied head");

    private final String script;
    private final String description;

    Model(String script, String description) {
      this.script = script;
      this.description = description;
    }

    /** {@code gpt2} or {@code llama}: the name on the command line. */
    public String key() {
      return name().toLowerCase(Locale.ROOT);
    }

    /** The reference script's file name (in {@code ../shared/reference/} by default). */
    public String script() {
      return script;
    }

    public String description() {
      return description;
    }

    /** {@code gpt2} or {@code llama}, case-insensitive; anything else is refused with the choices. */
    public static Model parse(String s) {
      for (Model m : values()) {
        if (m.key().equalsIgnoreCase(s.trim())) {
          return m;
        }
      }
      throw new IllegalArgumentException("unknown gradient bench model '" + s + "'; HINT: gpt2 or llama");
    }

    /** The float32 model with positions for {@code seq} tokens, seeded as the bench always is (seed 0). */
    CausalLm build(int seq) {
      return switch (this) {
        case GPT2 -> randomModel(new Gpt2Config(4096, seq, 256, 4, 4, 1e-5, "gelu_new"), 0L);
        case LLAMA -> Initialization.llama(new LlamaConfig(4096, 256, 688, 4, 4, 2, 1e-6, 10000.0, false, seq), 0L,
            DataType.FLOAT);
      };
    }
  }

  /** Sizes of one measurement: batch × seq tokens per step, projection rank per side, warm-up and timed steps. */
  public record Sizes(int batch, int seq, int rank, int warmup, int steps) {
    public Sizes {
      if (batch < 1 || seq < 2 || rank < 1 || warmup < 0 || steps < 1) {
        throw new IllegalArgumentException("gradient bench sizes must be batch >= 1, seq >= 2, rank >= 1, warmup >= 0,"
            + " steps >= 1; got batch=" + batch + " seq=" + seq + " rank=" + rank + " warmup=" + warmup
            + " steps=" + steps);
      }
    }

    /** The reference's defaults: batch 8 × 128 tokens, rank 32, 2 warm-up and 5 timed steps. */
    public static Sizes reference() {
      return new Sizes(8, 128, 32, 2, 5);
    }
  }

  /**
   * One timed mode: throughput, linear GFLOP/s ({@code 6 × linear weights × tokens / s}), the GEMM peak measured
   * right before it, and milliseconds per step of each phase of the model.
   */
  public record ModeResult(String mode, double tokensPerS, double examplesPerS, double linearGflops,
                           double gemmPeakGflops, double msPerStep, Map<String, Double> phaseMsPerStep) {
    public double fractionOfPeak() {
      return linearGflops / gemmPeakGflops;
    }
  }

  private final CausalLm model;
  private final TokenBatch batch;
  private final Sizes sizes;
  private final Map<String, KroneckerProjection> projections;

  private GradientBench(Model family, Sizes sizes) {
    this.sizes = sizes;
    this.model = family.build(sizes.seq());
    model.reusePerExampleBuffers(true); // each batch is consumed (checksummed) before the next
    Random rnd = new Random(0);
    int[][] tokens = new int[sizes.batch()][sizes.seq()];
    for (int[] t : tokens) {
      for (int j = 0; j < sizes.seq(); j++) {
        t[j] = rnd.nextInt(model.config().vocabSize());
      }
    }
    this.batch = new TokenBatch(tokens, null);
    this.projections = model.projections(model.linearLayers(), sizes.rank(), sizes.rank(), 0L);
  }

  /** The GPT-2 reference's bench model (4 layers, width 256, 4 heads, vocab 4096) with a seeded random batch. */
  public static GradientBench create(Sizes sizes) {
    return create(Model.GPT2, sizes);
  }

  /** {@code family}'s reference bench model with a seeded random batch. */
  public static GradientBench create(Model family, Sizes sizes) {
    return new GradientBench(family, sizes);
  }

  /** The model measured (for checks: its per-example gradients against single-example ones). */
  CausalLm model() {
    return model;
  }

  /** The seeded batch every step runs on. */
  TokenBatch batch() {
    return batch;
  }

  /** Weights of the tracked linear layers (the FLOP count's {@code P}). */
  public long linearParams() {
    return model.linearWeightCount();
  }

  /** Full per-example gradients of every tracked linear layer, timed; the GEMM peak (1024², best of 8) is measured right before. */
  public ModeResult full() {
    return full(1024, 8);
  }

  /** Rank-{@code sizes.rank()}-per-side Kronecker-projected per-example gradients, timed likewise. */
  public ModeResult projected() {
    return projected(1024, 8);
  }

  /** {@link #full()} with the peak measured on {@code peakN}² GEMMs, best of {@code peakRounds}. */
  public ModeResult full(int peakN, int peakRounds) {
    return run("full", GradientRequest.perExampleFull(), gemmPeak(peakN, peakRounds));
  }

  /** {@link #projected()} with the peak measured on {@code peakN}² GEMMs, best of {@code peakRounds}. */
  public ModeResult projected(int peakN, int peakRounds) {
    return run("projected", GradientRequest.perExampleProjected(projections), gemmPeak(peakN, peakRounds));
  }

  public static void main(String[] args) {
    Sizes d = Sizes.reference();
    int steps = d.steps();
    int warmup = d.warmup();
    int rank = d.rank();
    int batch = d.batch();
    int seq = d.seq();
    int peakN = 1024;
    int peakRounds = 8;
    String mode = "both";
    Model family = Model.GPT2;
    String hint = "; HINT: --model gpt2|llama --steps N --warmup N --rank R --batch B --seq T --peak-n N"
        + " --peak-rounds N --mode full|projected|both";
    for (int i = 0; i < args.length; i += 2) {
      if (i + 1 >= args.length) {
        throw new IllegalArgumentException("option " + args[i] + " needs a value" + hint);
      }
      if (args[i].equals("--mode")) {
        mode = args[i + 1];
        if (!List.of("full", "projected", "both").contains(mode)) {
          throw new IllegalArgumentException("--mode is full, projected or both, got " + mode + hint);
        }
        continue;
      }
      if (args[i].equals("--model")) {
        family = Model.parse(args[i + 1]);
        continue;
      }
      int v = Integer.parseInt(args[i + 1]);
      switch (args[i]) {
        case "--steps" -> steps = v;
        case "--warmup" -> warmup = v;
        case "--rank" -> rank = v;
        case "--batch" -> batch = v;
        case "--seq" -> seq = v;
        case "--peak-n" -> peakN = v;
        case "--peak-rounds" -> peakRounds = v;
        default -> throw new IllegalArgumentException("unknown option " + args[i] + hint);
      }
    }
    GradientBench bench = create(family, new Sizes(batch, seq, rank, warmup, steps));
    System.out.println("model: " + family.description());
    double peak = gemmPeak(peakN, peakRounds);
    System.out.printf(Locale.ROOT, "float32 GEMM peak (Nd4j.gemm %d^2, preallocated 'f'): %.1f GFLOP/s, OMP_NUM_THREADS=%s%n",
        peakN, peak, System.getenv("OMP_NUM_THREADS"));
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("impl", "nd4j");
    json.put("model", family.key());
    json.put("omp_num_threads", String.valueOf(System.getenv("OMP_NUM_THREADS")));
    json.put("linear_params", bench.linearParams());
    json.put("batch", batch);
    json.put("seq", seq);
    json.put("gemm_peak_gflops", round(peak));
    // the machine may be shared: the peak is measured again right before each mode, under the same load
    if (!mode.equals("projected")) {
      json.put("full", print("full", bench.full(peakN, peakRounds)));
    }
    if (!mode.equals("full")) {
      json.put("projected", print("projected rank " + rank, bench.projected(peakN, peakRounds)));
    }
    json.put("rank", rank);
    System.out.println(toJson(json));
  }

  private static Map<String, Object> print(String name, ModeResult r) {
    System.out.printf(Locale.ROOT, "%s: GEMM peak just before: %.1f GFLOP/s%n", name, r.gemmPeakGflops());
    System.out.printf(Locale.ROOT, "%s: %.1f tokens/s, %.1f linear GFLOP/s (%.0f%% of peak), %.1f ms/step%n",
        name, r.tokensPerS(), r.linearGflops(), 100 * r.fractionOfPeak(), r.msPerStep());
    r.phaseMsPerStep().forEach((k, v) -> System.out.printf(Locale.ROOT, "  %-18s %7.1f ms/step (%4.1f%%)%n", k, v,
        100 * v / r.msPerStep()));
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("tokens_per_s", round(r.tokensPerS()));
    m.put("examples_per_s", round(r.examplesPerS()));
    m.put("linear_gflops_per_s", round(r.linearGflops()));
    m.put("gemm_peak_gflops", round(r.gemmPeakGflops()));
    m.put("fraction_of_peak", Math.round(1000 * r.fractionOfPeak()) / 1000.0);
    m.put("ms_per_step", round(r.msPerStep()));
    Map<String, Object> phases = new LinkedHashMap<>();
    r.phaseMsPerStep().forEach((k, v) -> phases.put(k, round(v)));
    m.put("phase_ms_per_step", phases);
    return m;
  }

  private ModeResult run(String name, GradientRequest req, double peak) {
    double sink = 0;
    for (int i = 0; i < sizes.warmup(); i++) {
      sink += touch(model.gradients(batch, req));
    }
    model.resetTimings();
    long t0 = System.nanoTime();
    for (int i = 0; i < sizes.steps(); i++) {
      sink += touch(model.gradients(batch, req));
    }
    double s = (System.nanoTime() - t0) / 1e9;
    if (Double.isNaN(sink)) {
      throw new IllegalStateException("the " + name + " gradients are NaN");
    }
    int steps = sizes.steps();
    long tokens = (long) batch.size() * batch.maxLength() * steps;
    Map<String, Double> phases = new LinkedHashMap<>();
    model.timings().entrySet().stream().sorted(Map.Entry.<String, Double>comparingByValue().reversed())
        .forEach(e -> phases.put(e.getKey(), 1000 * e.getValue() / steps));
    return new ModeResult(name, tokens / s, batch.size() * (double) steps / s,
        6.0 * model.linearWeightCount() * tokens / s / 1e9, peak, 1000 * s / steps, phases);
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

  static CausalLm randomModel(Gpt2Config cfg, long seed) {
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
    return CausalLm.fromTensors(cfg, t, DataType.FLOAT);
  }

  private static void linear(Map<String, INDArray> t, String name, int in, int out) {
    t.put(name + ".weight", Nd4j.randn(DataType.FLOAT, in, out).muli(0.02));
    t.put(name + ".bias", Nd4j.zeros(DataType.FLOAT, out));
  }

  /** Best of 8 rounds of 5 timed {@code Nd4j.gemm} 1024² calls into a preallocated 'f' output, in GFLOP/s. */
  public static double gemmPeak() {
    return gemmPeak(1024, 8);
  }

  /** Best of {@code rounds} rounds of 5 timed {@code n}² float32 {@code Nd4j.gemm} calls, in GFLOP/s. */
  public static double gemmPeak(int n, int rounds) {
    INDArray a = Nd4j.rand(DataType.FLOAT, 'f', n, n);
    INDArray b = Nd4j.rand(DataType.FLOAT, 'f', n, n);
    INDArray c = Nd4j.create(DataType.FLOAT, new long[] {n, n}, 'f');
    double best = 0;
    Nd4j.gemm(a, b, c, false, false, 1.0, 0.0); // warm-up
    for (int rep = 0; rep < rounds; rep++) {
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
    return Math.round(v * 1000) / 1000.0;
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
