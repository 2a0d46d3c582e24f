package io.influence.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.spark.config.BlasThreads;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Per-example gradient extraction throughput ({@link GradientBench}: the references' 4-layer, 256-wide
 * GPT-2 and Llama, vocabulary 4096), full and rank-32 projected, against the float32 GEMM peak measured
 * right before each mode and against the PyTorch reference of the same family run in the same task with
 * the same thread count. Per model the order is ours-full, reference-full, ours-projected,
 * reference-projected, so each pair runs under nearly the same machine load. GPT-2's metrics are
 * {@code full_*} and {@code projected_*}, Llama's {@code llama_full_*} and {@code llama_projected_*}.
 *
 * <p>Ours runs as {@code GradientBench}'s main in a child JVM with {@code OMP_NUM_THREADS=threads}: the
 * model's element-wise kernels read that variable once per JVM, and {@code influence} itself runs with one
 * thread per Spark task, so only a fresh JVM measures what {@code bin/bench-gradients} measures.
 *
 * <p>Keys: {@code -P threads=N} (default: all cores), {@code batch}, {@code seq}, {@code rank},
 * {@code steps}, {@code warmup} (full: 8, 128, 32, 5, 2 as the references; quick: 2, 64, 32, 2, 1),
 * {@code model=gpt2|llama|both} (default both), {@code reference=PATH} (torch_gpt2.py),
 * {@code llama-reference=PATH} (torch_llama.py), {@code python=PATH}. The peak is the best of 8 rounds of 1024² GEMMs (quick: 3 of
 * 512²).
 */
final class GradientsTask implements BenchTask {

  @Override
  public String name() {
    return "gradients";
  }

  @Override
  public String kind() {
    return "speed";
  }

  @Override
  public String description() {
    return "per-example gradients (full, rank-32 projected) of GPT-2 and Llama (-P model=gpt2|llama|both): tokens/s"
        + " vs the PyTorch reference and vs the GEMM peak";
  }

  @Override
  public BenchResult run(BenchOptions o) throws Exception {
    int threads = o.intParam("threads", BlasThreads.cores(), BlasThreads.cores());
    GradientBench.Sizes sizes = new GradientBench.Sizes(o.intParam("batch", 2, 8), o.intParam("seq", 64, 128),
        o.intParam("rank", 32, 32), o.intParam("warmup", 1, 2), o.intParam("steps", 2, 5));
    int peakN = o.quick() ? 512 : 1024;
    int peakRounds = o.quick() ? 3 : 8;
    String which = o.param("model", "both").trim().toLowerCase(Locale.ROOT);
    List<GradientBench.Model> models = which.equals("both") ? List.of(GradientBench.Model.values())
        : List.of(GradientBench.Model.parse(which));
    BenchResult.Builder b = BenchResult.of(name());
    b.note(MachineLoad.now() + " at start");
    b.note(String.format(Locale.ROOT, "batch %d x %d tokens, rank %d per side, %d warm-up + %d timed steps; %d"
        + " BLAS/OpenMP thread(s) for ours and the reference; GEMM peak: best of %d rounds of %d^2", sizes.batch(),
        sizes.seq(), sizes.rank(), sizes.warmup(), sizes.steps(), threads, peakRounds, peakN));
    for (GradientBench.Model model : models) {
      TorchReference reference = TorchReference.from(o, model);
      String prefix = model == GradientBench.Model.GPT2 ? "" : model.key() + "_";
      b.note("model " + model.description());
      JsonNode full = ours(model, "full", sizes, threads, peakN, peakRounds, o.workDir());
      TorchReference.Figures refFull = reference.run(sizes, 0, threads);
      JsonNode projected = ours(model, "projected", sizes, threads, peakN, peakRounds, o.workDir());
      TorchReference.Figures refProjected = reference.run(sizes, sizes.rank(), threads);
      mode(b, prefix + "full", full, refFull);
      mode(b, prefix + "projected", projected, refProjected);
      b.note(refFull.note());
      if (!refProjected.note().equals(refFull.note())) {
        b.note(refProjected.note());
      }
      if (model != models.get(models.size() - 1)) {
        b.note(MachineLoad.now() + " after " + model.key());
      }
    }
    b.note("linear GFLOP/s = 6 x (weights of the blocks' linear layers) x tokens/s, the reference's definition");
    b.note(MachineLoad.now() + " at end");
    return b.build();
  }

  /** Runs GradientBench's main for one model and mode in a child JVM; returns the mode's JSON object (with linear_params). */
  private static JsonNode ours(GradientBench.Model model, String mode, GradientBench.Sizes sizes, int threads, int peakN, int peakRounds, Path dir)
      throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx3g", "-cp", System.getProperty("java.class.path"), GradientBench.class.getName(),
        "--model", model.key(), "--batch", String.valueOf(sizes.batch()), "--seq", String.valueOf(sizes.seq()),
        "--rank", String.valueOf(sizes.rank()), "--steps", String.valueOf(sizes.steps()),
        "--warmup", String.valueOf(sizes.warmup()), "--peak-n", String.valueOf(peakN),
        "--peak-rounds", String.valueOf(peakRounds), "--mode", mode));
    Path log = dir.resolve("gradient-bench-" + model.key() + "-" + mode + ".log");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("OMP_NUM_THREADS", String.valueOf(threads));
    Process p = pb.start();
    if (!p.waitFor(10, TimeUnit.MINUTES)) {
      p.destroyForcibly();
      throw new IllegalStateException("GradientBench (" + model.key() + ", " + mode + ") ran for over 10 minutes; its output: " + log);
    }
    String out = Files.readString(log, StandardCharsets.UTF_8);
    String json = null;
    for (String line : out.split("\n")) {
      if (line.startsWith("{")) {
        json = line;
      }
    }
    if (p.exitValue() != 0 || json == null) {
      throw new IllegalStateException("GradientBench (" + model.key() + ", " + mode + ") failed with exit status " + p.exitValue()
          + "; its output is in " + log);
    }
    JsonNode all = new ObjectMapper().readTree(json);
    JsonNode m = all.get(mode);
    if (m == null) {
      throw new IllegalStateException("GradientBench (" + model.key() + ") printed no '" + mode + "' figures: " + json);
    }
    ((com.fasterxml.jackson.databind.node.ObjectNode) m).put("linear_params", all.get("linear_params").asLong());
    return m;
  }

  private static void mode(BenchResult.Builder b, String mode, JsonNode ours, TorchReference.Figures ref) {
    double tokensPerS = ours.get("tokens_per_s").asDouble();
    double peak = ours.get("gemm_peak_gflops").asDouble();
    double linear = 6.0 * ours.get("linear_params").asLong() * tokensPerS / 1e9;
    b.metric(mode + "_gemm_peak_gflops", peak);
    b.metric(mode + "_tokens_per_s", tokensPerS);
    b.metric(mode + "_linear_gflops", linear);
    b.atLeast(mode + "_fraction_of_peak", linear / peak, 0.40);
    b.metric(mode + "_reference_tokens_per_s", ref.tokensPerS());
    b.atLeast(mode + "_vs_reference", tokensPerS / ref.tokensPerS(), 3.0);
    StringBuilder phases = new StringBuilder();
    Iterator<Map.Entry<String, JsonNode>> it = ours.get("phase_ms_per_step").fields();
    for (int i = 0; i < 8 && it.hasNext(); i++) {
      Map.Entry<String, JsonNode> e = it.next();
      phases.append(i == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%s %.1f", e.getKey(),
          e.getValue().asDouble()));
    }
    b.note(String.format(Locale.ROOT, "%s: ms per step by phase: %s (of %.1f)", mode, phases,
        ours.get("ms_per_step").asDouble()));
  }
}
