package io.influence.spark.bench;

import io.influence.core.bench.GradientBench;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * Per-example gradient extraction throughput ({@link GradientBench}: the reference's 4-layer, 256-wide
 * GPT-2, vocabulary 4096), full and rank-32 projected, against the float32 GEMM peak measured right
 * before each mode and against the PyTorch reference run in the same task with the same thread count.
 * The order is ours-full, reference-full, ours-projected, reference-projected, so each pair runs under
 * nearly the same machine load.
 *
 * <p>Keys: {@code -P threads=N} (default: all cores), {@code batch}, {@code seq}, {@code rank},
 * {@code steps}, {@code warmup} (full: 8, 128, 32, 5, 2 as the reference; quick: 2, 64, 32, 2, 1),
 * {@code reference=PATH}, {@code python=PATH}. The peak is the best of 8 rounds of 1024² GEMMs (quick: 3 of 512²).
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
    return "per-example gradients (full, rank-32 projected): tokens/s vs the PyTorch reference and vs the GEMM peak";
  }

  @Override
  public BenchResult run(BenchOptions o) {
    int threads = o.intParam("threads", BlasThreads.cores(), BlasThreads.cores());
    GradientBench.Sizes sizes = new GradientBench.Sizes(o.intParam("batch", 2, 8), o.intParam("seq", 64, 128),
        o.intParam("rank", 32, 32), o.intParam("warmup", 1, 2), o.intParam("steps", 2, 5));
    TorchReference reference = TorchReference.from(o);
    BenchResult.Builder b = BenchResult.of(name());
    b.note(MachineLoad.now() + " at start");
    b.note(String.format(Locale.ROOT, "model: 4 layers, width 256, 4 heads, vocab 4096; batch %d x %d tokens, rank %d"
        + " per side, %d warm-up + %d timed steps; %d BLAS/OpenMP thread(s) for ours and the reference",
        sizes.batch(), sizes.seq(), sizes.rank(), sizes.warmup(), sizes.steps(), threads));
    try (BlasThreads t = BlasThreads.set(threads)) {
      GradientBench bench = GradientBench.create(sizes);
      int peakN = o.quick() ? 512 : 1024;
      int peakRounds = o.quick() ? 3 : 8;
      GradientBench.ModeResult full = bench.full(peakN, peakRounds);
      TorchReference.Figures refFull = reference.run(sizes, 0, threads);
      GradientBench.ModeResult projected = bench.projected(peakN, peakRounds);
      TorchReference.Figures refProjected = reference.run(sizes, sizes.rank(), threads);
      mode(b, "full", full, refFull);
      mode(b, "projected", projected, refProjected);
      b.note(refFull.note());
      if (!refProjected.note().equals(refFull.note())) {
        b.note(refProjected.note());
      }
    }
    b.note(MachineLoad.now() + " at end");
    return b.build();
  }

  private static void mode(BenchResult.Builder b, String mode, GradientBench.ModeResult ours,
                           TorchReference.Figures ref) {
    b.metric(mode + "_gemm_peak_gflops", ours.gemmPeakGflops());
    b.metric(mode + "_tokens_per_s", ours.tokensPerS());
    b.metric(mode + "_linear_gflops", ours.linearGflops());
    b.atLeast(mode + "_fraction_of_peak", ours.fractionOfPeak(), 0.40);
    b.metric(mode + "_reference_tokens_per_s", ref.tokensPerS());
    b.atLeast(mode + "_vs_reference", ours.tokensPerS() / ref.tokensPerS(), 3.0);
    b.note(mode + ": ms per step by phase: " + ours.phaseMsPerStep().entrySet().stream().limit(8)
        .map(e -> String.format(Locale.ROOT, "%s %.1f", e.getKey(), e.getValue()))
        .collect(Collectors.joining(", ")) + String.format(Locale.ROOT, " (of %.1f)", ours.msPerStep()));
  }
}
