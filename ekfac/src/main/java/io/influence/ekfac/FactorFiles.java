package io.influence.ekfac;

import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.SafetensorsFile;
import io.influence.checkpoints.SafetensorsWriter;
import io.influence.checkpoints.TensorInfo;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/*
 * Factor files: one safetensors file per (checkpoint, layer), written atomically by
 * SafetensorsWriter (temp file + rename). Layout, all float64, row-major:
 *
 *   tensor          shape          meaning
 *   Q_A             [dIn, dIn]     eigenvectors of A, one per column
 *   eigenvalues_A   [dIn]          ascending, clamped at 0
 *   Q_S             [dOut, dOut]   eigenvectors of S, one per column
 *   eigenvalues_S   [dOut]
 *   lambda          [dOut, dIn]    EK-FAC corrected eigenvalues (absent before the correction pass)
 *
 * Metadata (strings): format = influence-ekfac-factors/1, layer, d_in, d_out, tokens, examples,
 * correction_examples, tokens_per_example (Double.toString, exact round trip), and, when given,
 * damping_mode / damping_value (the damping the factors are meant to be used with).
 */
/** Reads and writes {@link LayerFactors} as safetensors files, one per layer. */
public final class FactorFiles {

  /** Value of the {@code format} metadata key. */
  public static final String FORMAT = "influence-ekfac-factors/1";
  /** File name suffix of factor files in a checkpoint's factor folder. */
  public static final String SUFFIX = ".safetensors";

  private FactorFiles() {}

  /** Writes one layer's factors (and, if not null, the damping to use with them) to {@code file}. */
  public static void write(Path file, LayerFactors f, Damping damping) throws IOException {
    SafetensorsWriter w = new SafetensorsWriter()
        .metadata("format", FORMAT)
        .metadata("layer", f.layer())
        .metadata("d_in", Integer.toString(f.dIn()))
        .metadata("d_out", Integer.toString(f.dOut()))
        .metadata("tokens", Long.toString(f.tokens()))
        .metadata("examples", Long.toString(f.examples()))
        .metadata("correction_examples", Long.toString(f.correctionExamples()))
        .metadata("tokens_per_example", Double.toString(f.tokensPerExample()))
        .put("Q_A", new long[] {f.dIn(), f.dIn()}, f.qA())
        .put("eigenvalues_A", new long[] {f.dIn()}, f.eigA())
        .put("Q_S", new long[] {f.dOut(), f.dOut()}, f.qS())
        .put("eigenvalues_S", new long[] {f.dOut()}, f.eigS());
    if (f.lambda() != null) {
      w.put("lambda", new long[] {f.dOut(), f.dIn()}, f.lambda());
    }
    if (damping != null) {
      w.metadata("damping_mode", damping.mode().name()).metadata("damping_value", Double.toString(damping.value()));
    }
    w.write(file);
  }

  /** Reads one layer's factors, checking every tensor's shape against {@code d_in}/{@code d_out}. */
  public static LayerFactors read(Path file) throws CheckpointFormatException {
    try (SafetensorsFile st = SafetensorsFile.open(file)) {
      Map<String, String> md = st.metadata();
      if (!FORMAT.equals(md.get("format"))) {
        throw new CheckpointFormatException(file, null, "metadata 'format' is " + md.get("format") + ", expected " + FORMAT + ".",
            "this is not a factor file written by FactorFiles.write; re-run fit-ekfac for this checkpoint.");
      }
      String layer = required(file, md, "layer");
      int dIn = (int) number(file, md, "d_in");
      int dOut = (int) number(file, md, "d_out");
      double[] qA = tensor(st, file, "Q_A", dIn, dIn);
      double[] eigA = tensor(st, file, "eigenvalues_A", dIn);
      double[] qS = tensor(st, file, "Q_S", dOut, dOut);
      double[] eigS = tensor(st, file, "eigenvalues_S", dOut);
      double[] lambda = st.contains("lambda") ? tensor(st, file, "lambda", dOut, dIn) : null;
      double tpe;
      try {
        tpe = Double.parseDouble(required(file, md, "tokens_per_example"));
      } catch (NumberFormatException e) {
        throw new CheckpointFormatException(file, null, "metadata 'tokens_per_example' is not a number: "
            + md.get("tokens_per_example") + ".", "re-run fit-ekfac for this checkpoint.", e);
      }
      try {
        return new LayerFactors(layer, dIn, dOut, qA, eigA, qS, eigS, tpe, lambda,
            number(file, md, "tokens"), number(file, md, "examples"), number(file, md, "correction_examples"));
      } catch (IllegalArgumentException e) {
        throw new CheckpointFormatException(file, null, e.getMessage(), "re-run fit-ekfac for this checkpoint.", e);
      }
    }
  }

  /** The damping stored with the factors, or null when none was stored. */
  public static Damping readDamping(Path file) throws CheckpointFormatException {
    try (SafetensorsFile st = SafetensorsFile.open(file)) {
      String mode = st.metadata().get("damping_mode");
      if (mode == null) {
        return null;
      }
      try {
        return new Damping(Damping.Mode.valueOf(mode), Double.parseDouble(required(file, st.metadata(), "damping_value")));
      } catch (IllegalArgumentException e) {
        throw new CheckpointFormatException(file, null, "bad damping metadata: " + e.getMessage(),
            "damping_mode must be one of " + Arrays.toString(Damping.Mode.values()) + " with a finite damping_value >= 0.", e);
      }
    }
  }

  /** Writes every layer to {@code dir/<layer>.safetensors} (characters outside [A-Za-z0-9._-] become '_'). */
  public static void writeAll(Path dir, Map<String, LayerFactors> factors, Damping damping) throws IOException {
    Files.createDirectories(dir);
    for (LayerFactors f : factors.values()) {
      write(dir.resolve(fileName(f.layer())), f, damping);
    }
  }

  /** Reads every factor file in {@code dir}, keyed by the layer name stored in each file. */
  public static Map<String, LayerFactors> readAll(Path dir) throws IOException, CheckpointFormatException {
    Map<String, LayerFactors> out = new TreeMap<>();
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
      for (Path file : files) {
        LayerFactors f = read(file);
        if (out.put(f.layer(), f) != null) {
          throw new CheckpointFormatException(file, null, "a second factor file for layer " + f.layer() + " in " + dir + ".",
              "keep one factor file per layer in a checkpoint's factor folder.");
        }
      }
    }
    if (out.isEmpty()) {
      throw new CheckpointFormatException(dir, null, "holds no factor files (*" + SUFFIX + ").",
          "run fit-ekfac for this checkpoint first, or point at the folder it wrote.");
    }
    return out;
  }

  static String fileName(String layer) {
    return layer.replaceAll("[^A-Za-z0-9._-]", "_") + SUFFIX;
  }

  private static String required(Path file, Map<String, String> md, String key) throws CheckpointFormatException {
    String v = md.get(key);
    if (v == null) {
      throw new CheckpointFormatException(file, null, "metadata key '" + key + "' is missing.",
          "this factor file is incomplete; re-run fit-ekfac for this checkpoint.");
    }
    return v;
  }

  private static long number(Path file, Map<String, String> md, String key) throws CheckpointFormatException {
    String v = required(file, md, key);
    try {
      long n = Long.parseLong(v);
      if (n < 0) {
        throw new NumberFormatException("negative");
      }
      return n;
    } catch (NumberFormatException e) {
      throw new CheckpointFormatException(file, null, "metadata '" + key + "' must be a non-negative integer, got '" + v + "'.",
          "re-run fit-ekfac for this checkpoint.", e);
    }
  }

  private static double[] tensor(SafetensorsFile st, Path file, String name, long... shape) throws CheckpointFormatException {
    if (!st.contains(name)) {
      throw new CheckpointFormatException(file, name, "is missing.", "re-run fit-ekfac for this checkpoint.");
    }
    TensorInfo info = st.info(name);
    if (!Arrays.equals(info.shape(), shape)) {
      throw new CheckpointFormatException(file, name, "has shape " + Arrays.toString(info.shape()) + ", expected "
          + Arrays.toString(shape) + " from the file's d_in/d_out metadata.",
          "the file was written for other dimensions or is corrupt; re-run fit-ekfac for this checkpoint.");
    }
    double[] x = st.readDoubles(name);
    for (int i = 0; i < x.length; i++) {
      if (!Double.isFinite(x[i])) {
        throw new CheckpointFormatException(file, name, "element " + i + " is " + x[i] + ".",
            "the factors are corrupt; re-run fit-ekfac for this checkpoint.");
      }
    }
    return x;
  }
}
