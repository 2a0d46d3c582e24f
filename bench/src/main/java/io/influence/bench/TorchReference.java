package io.influence.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A PyTorch reference's per-example gradient bench ({@code torch_gpt2.py bench} or {@code torch_llama.py
 * bench}, whose defaults are the model sizes of {@link GradientBench.Model}), run as a child process on the
 * same batch sizes and with the same thread count as ours ({@code --threads N} and {@code OMP_NUM_THREADS=N}).
 * The scripts are not part of this repository: the path comes from {@code -P reference=PATH} for GPT-2
 * (default {@code ../shared/reference/torch_gpt2.py}, relative to the working folder) and
 * {@code -P llama-reference=PATH} for Llama (default {@code ../shared/reference/torch_llama.py}), the
 * interpreter from {@code -P python=PATH} (default {@code /usr/bin/python3}). When
 * either is missing, or PyTorch is not installed, the figures are NaN and the note says why; they are
 * never estimated.
 */
final class TorchReference {

  static final String DEFAULT_FOLDER = "../shared/reference/";
  static final String DEFAULT_PYTHON = "/usr/bin/python3";

  /** Tokens/s and linear GFLOP/s of one reference run (NaN when unavailable), and what was run or why not. */
  record Figures(double tokensPerS, double linearGflops, boolean available, String note) {
    static Figures unavailable(String why) {
      return new Figures(Double.NaN, Double.NaN, false, "PyTorch reference unavailable: " + why);
    }
  }

  private final Path script;
  private final String key;
  private final String python;

  private TorchReference(Path script, String key, String python) {
    this.script = script;
    this.key = key;
    this.python = python;
  }

  /** The GPT-2 reference ({@code -P reference}). */
  static TorchReference from(BenchOptions options) {
    return from(options, GradientBench.Model.GPT2);
  }

  /** {@code model}'s reference: {@code -P reference} for GPT-2, {@code -P llama-reference} for Llama. */
  static TorchReference from(BenchOptions options, GradientBench.Model model) {
    String key = model == GradientBench.Model.GPT2 ? "reference" : model.key() + "-reference";
    return new TorchReference(Path.of(options.param(key, DEFAULT_FOLDER + model.script())), key,
        options.param("python", DEFAULT_PYTHON));
  }

  /** Runs the reference on {@code sizes}: full per-example gradients when {@code rank == 0}, else projected. */
  Figures run(GradientBench.Sizes sizes, int rank, int threads) {
    if (!Files.isRegularFile(script)) {
      return Figures.unavailable("no script at " + script.toAbsolutePath()
          + " (set -P " + key + "=PATH)");
    }
    if (!Files.isExecutable(Path.of(python)) && !python.equals("python3")) {
      return Figures.unavailable("no Python interpreter at " + python + " (set -P python=PATH)");
    }
    List<String> cmd = new ArrayList<>(List.of(python, script.toString(), "bench",
        "--batch", String.valueOf(sizes.batch()), "--seq", String.valueOf(sizes.seq()),
        "--rank", String.valueOf(rank), "--steps", String.valueOf(sizes.steps()),
        "--warmup", String.valueOf(sizes.warmup()), "--threads", String.valueOf(threads)));
    try {
      Path log = Files.createTempFile("torch-reference", ".log");
      try {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("OMP_NUM_THREADS", String.valueOf(threads));
        pb.environment().put("MKL_NUM_THREADS", String.valueOf(threads));
        Process p = pb.start();
        if (!p.waitFor(10, TimeUnit.MINUTES)) {
          p.destroyForcibly();
          return Figures.unavailable("it ran for over 10 minutes: " + String.join(" ", cmd));
        }
        String out = Files.readString(log, StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
          String why = out.contains("No module named 'torch'") ? "PyTorch is not installed for " + python
              + " (apt-get install python3-torch libopenblas0-pthread)" : "exit status " + p.exitValue();
          return Figures.unavailable(why + "; output: " + tail(out));
        }
        String json = null;
        for (String line : out.split("\n")) {
          if (line.startsWith("{")) {
            json = line;
          }
        }
        if (json == null) {
          return Figures.unavailable("no JSON line in its output: " + tail(out));
        }
        JsonNode n = new ObjectMapper().readTree(json);
        return new Figures(n.path("tokens_per_s").asDouble(Double.NaN), n.path("linear_gflops_per_s").asDouble(Double.NaN),
            true, "PyTorch reference " + n.path("torch").asText("?") + " with " + n.path("threads").asInt() + " thread(s)"
            + " (OMP_NUM_THREADS=" + threads + "): " + String.join(" ", cmd.subList(1, cmd.size())));
      } finally {
        Files.deleteIfExists(log);
      }
    } catch (IOException e) {
      return Figures.unavailable("cannot run " + python + ": " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Figures.unavailable("interrupted");
    }
  }

  private static String tail(String s) {
    String t = s.strip();
    return t.length() <= 300 ? t : "..." + t.substring(t.length() - 300);
  }
}
