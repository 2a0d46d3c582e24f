package io.influence.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The speed tasks on tiny sizes through {@link BenchSuite#run}: every figure is finite and positive, and the
 * figures of a task agree with each other (a rate times its time gives the work done, a ratio is the quotient
 * of the figures it names). No speed is asserted. The PyTorch reference is pointed at a missing script, so its
 * figures must come back NaN with a note, never estimated.
 */
class SpeedBenchTest {

  private static final double TOL = 1e-9;

  @Test
  void speedTasks_tinySizes_figuresFinitePositiveAndConsistent(@TempDir Path dir) throws Exception {
    Map<String, String> params = Map.ofEntries(
        Map.entry("batch", "1"), Map.entry("seq", "16"), Map.entry("rank", "8"), Map.entry("steps", "1"),
        Map.entry("warmup", "0"), Map.entry("threads", "1"), Map.entry("reference", dir.resolve("no-such-reference.py").toString()),
        Map.entry("llama-reference", dir.resolve("no-such-llama-reference.py").toString()),
        Map.entry("train", "256"), Map.entry("queries", "16"), Map.entry("grad-layers", "1"),
        Map.entry("grad-rows", "8"), Map.entry("grad-cols", "8"), Map.entry("topk", "3"), Map.entry("block", "64"),
        Map.entry("rows", "24"), Map.entry("rounds", "1"), Map.entry("proj", "4"), Map.entry("vocab", "64"),
        Map.entry("ctx", "8"), Map.entry("width", "16"), Map.entry("layers", "1"), Map.entry("period", "300"));
    List<BenchTask> tasks = BenchSuite.select(List.of("gradients", "scoring", "ekfac-fit", "scaling", "memory"));
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    List<BenchResult> results = BenchSuite.run(tasks, new BenchOptions(true, 7, dir, params),
        new PrintStream(log, true, StandardCharsets.UTF_8));
    assertEquals(5, results.size());

    Map<String, Double> g = results.get(0).metrics();
    for (String mode : List.of("full", "projected", "llama_full", "llama_projected")) {
      positive(g, mode + "_gemm_peak_gflops", mode + "_tokens_per_s", mode + "_linear_gflops", mode + "_fraction_of_peak");
      close(g.get(mode + "_linear_gflops") / g.get(mode + "_gemm_peak_gflops"), g.get(mode + "_fraction_of_peak"));
      assertTrue(Double.isNaN(g.get(mode + "_reference_tokens_per_s")), "a missing reference must give NaN");
      assertTrue(Double.isNaN(g.get(mode + "_vs_reference")));
    }
    // linear GFLOP/s = 6 × (linear weights) × tokens/s: the same factor in both modes
    close(g.get("full_linear_gflops") / g.get("full_tokens_per_s"),
        g.get("projected_linear_gflops") / g.get("projected_tokens_per_s"));
    close(g.get("full_linear_gflops") / g.get("full_tokens_per_s"), 6.0 * 4 * 12 * 256 * 256 / 1e9);
    close(g.get("llama_full_linear_gflops") / g.get("llama_full_tokens_per_s"),
        6.0 * 4 * (2 * 256 * 256 + 2 * 256 * 128 + 3 * 256 * 688) / 1e9);
    assertTrue(results.get(0).notes().stream().anyMatch(n -> n.contains("PyTorch reference unavailable")),
        results.get(0).notes().toString());

    Map<String, Double> s = results.get(1).metrics();
    positive(s, "gemm_peak_gflops", "job_seconds", "job_gflops", "scores_per_s", "job_fraction_of_peak",
        "gemm_pass_fraction_of_peak", "kernel_fraction_of_peak", "read_only_seconds");
    assertEquals(16 * 2 * 3, s.get("rows_out"), "top and bottom 3 per query");
    close(s.get("scores_per_s") * s.get("job_seconds"), 16.0 * 256);
    close(s.get("job_gflops") * s.get("job_seconds") * 1e9, 2.0 * 16 * 256 * 64);
    close(s.get("job_gflops") / s.get("gemm_peak_gflops"), s.get("job_fraction_of_peak"));

    Map<String, Double> e = results.get(2).metrics();
    positive(e, "extract_seconds", "fit_seconds", "fit_over_extract", "extract_rows_per_s");
    close(e.get("fit_seconds") / e.get("extract_seconds"), e.get("fit_over_extract"));
    close(e.get("extract_rows_per_s") * e.get("extract_seconds"), 24);

    Map<String, Double> c = results.get(3).metrics();
    positive(c, "local1_rows_per_s", "local2_rows_per_s", "speedup_local2_vs_local1", "local1_busy_fraction",
        "local2_busy_fraction", "task_seconds_local2_over_local1");
    close(c.get("local2_rows_per_s") / c.get("local1_rows_per_s"), c.get("speedup_local2_vs_local1"));
    assertTrue(c.get("local1_busy_fraction") <= 1.05 && c.get("local2_busy_fraction") <= 1.05,
        "task time cannot exceed wall time x slots: " + c);

    Map<String, Double> m = results.get(4).metrics();
    for (String x : List.of("1x", "4x", "16x")) {
      positive(m, "live_heap_mib_" + x, "peak_used_heap_mib_" + x);
      assertTrue(m.get("live_heap_mib_" + x) <= m.get("peak_used_heap_mib_" + x) + 1e-6,
          "the heap after a collection cannot exceed the peak of heap used: " + m);
    }
    close(m.get("live_heap_mib_16x") / m.get("live_heap_mib_1x"), m.get("live_heap_16x_over_1x"));

    for (BenchResult r : results) {
      positive(r.metrics(), "seconds");
    }
    String table = BenchSuite.table(results);
    assertTrue(table.contains("speedup_local2_vs_local1") && table.contains(">= 1.7000"), table);
  }

  private static void positive(Map<String, Double> m, String... names) {
    for (String n : names) {
      Double v = m.get(n);
      assertTrue(v != null && Double.isFinite(v) && v > 0, n + " must be finite and > 0, got " + v + " in " + m);
    }
  }

  private static void close(double a, double b) {
    assertEquals(b, a, TOL * Math.max(1, Math.abs(b)), "figures disagree");
  }
}
