package io.influence.checkpoints;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Adam's moment estimates saved beside a checkpoint's weights, {@value #FILE}: what optimizer-aware
 * influence (TrackStar, Chang et al. 2024; LESS, Xia et al. 2024) divides gradients by.
 *
 * <p>Layout: one safetensors file, float32, per trained parameter two tensors named after the parameter's
 * tensor in {@code model.safetensors} (GPT-2's with its {@code transformer.} prefix) plus a suffix:
 * <pre>
 *   &lt;name&gt;.exp_avg_sq   second moment v (PyTorch's state key), same shape as the parameter, finite, &gt;= 0
 *   &lt;name&gt;.exp_avg      first moment m, same shape
 *   __metadata__: format = influence-optimizer/1, optimizer = adamw, step = t (updates applied),
 *                 beta1, beta2, eps, weight_decay (decimal strings)
 * </pre>
 * The state is the optimizer's after update {@code t}, the update that produced the weights beside it. The
 * bias-corrected second moment is {@code v̂ = v / (1 − β2^t)}.
 *
 * <p>{@link #read} is strict: the file must exist (a PyTorch {@code optimizer.pt}/{@code .bin} is refused with the
 * conversion to run, {@link #conversionHint()}), carry the metadata above, and every tensor must name a tensor of
 * the checkpoint with the same shape; values finite and {@code v >= 0}. Every failure is a
 * {@link CheckpointFormatException} naming the file and the tensor.
 */
public final class OptimizerState {

  /** File name inside a checkpoint folder. */
  public static final String FILE = "optimizer.safetensors";
  /** Suffix of a parameter's second moment. */
  public static final String SECOND_MOMENT = ".exp_avg_sq";
  /** Suffix of a parameter's first moment. */
  public static final String FIRST_MOMENT = ".exp_avg";
  /** Value of the {@code format} metadata key. */
  public static final String FORMAT = "influence-optimizer/1";

  /** The optimizer's scalar settings and how many updates it applied. */
  public record Settings(String optimizer, long step, double beta1, double beta2, double eps, double weightDecay) {
    public Settings {
      Objects.requireNonNull(optimizer, "optimizer");
      if (step < 1) {
        throw new IllegalArgumentException("optimizer step must be >= 1, got " + step);
      }
      if (!(beta2 >= 0 && beta2 < 1) || !(beta1 >= 0 && beta1 < 1) || !(eps > 0) || !(weightDecay >= 0)) {
        throw new IllegalArgumentException("need 0 <= beta1, beta2 < 1, eps > 0 and weight decay >= 0, got " + beta1
            + ", " + beta2 + ", " + eps + ", " + weightDecay);
      }
    }
  }

  private final Path file;
  private final String sha256;
  private final Settings settings;
  private final Map<String, float[]> secondMoments;   // parameter tensor name -> v, row-major
  private final Map<String, long[]> shapes;

  private OptimizerState(Path file, String sha256, Settings settings, Map<String, float[]> v, Map<String, long[]> shapes) {
    this.file = file;
    this.sha256 = sha256;
    this.settings = settings;
    this.secondMoments = v;
    this.shapes = shapes;
  }

  /**
   * Writes {@value #FILE} into {@code dir}: for each parameter (tensor name as in {@code model.safetensors}) its
   * shape, first and second moment (row-major float32).
   */
  public static void write(Path dir, Settings settings, Map<String, long[]> shapes, Map<String, float[]> first,
                           Map<String, float[]> second) throws IOException {
    SafetensorsWriter w = new SafetensorsWriter().metadata("format", FORMAT).metadata("optimizer", settings.optimizer())
        .metadata("step", Long.toString(settings.step())).metadata("beta1", Double.toString(settings.beta1()))
        .metadata("beta2", Double.toString(settings.beta2())).metadata("eps", Double.toString(settings.eps()))
        .metadata("weight_decay", Double.toString(settings.weightDecay()));
    for (Map.Entry<String, long[]> e : shapes.entrySet()) {
      w.put(e.getKey() + FIRST_MOMENT, e.getValue(), Objects.requireNonNull(first.get(e.getKey()), e.getKey()));
      w.put(e.getKey() + SECOND_MOMENT, e.getValue(), Objects.requireNonNull(second.get(e.getKey()), e.getKey()));
    }
    w.write(dir.resolve(FILE));
  }

  /** Whether {@code checkpointDir} holds {@value #FILE}. */
  public static boolean present(Path checkpointDir) {
    return Files.isRegularFile(checkpointDir.resolve(FILE));
  }

  /**
   * Reads and checks the optimizer state of the checkpoint folder {@code checkpointDir} against its weights.
   *
   * @throws CheckpointFormatException when it is missing, pickled, or inconsistent with the weights
   */
  public static OptimizerState read(Path checkpointDir) throws CheckpointFormatException {
    Path file = checkpointDir.resolve(FILE);
    if (!Files.isRegularFile(file)) {
      for (String suffix : new java.util.TreeSet<>(PickleRefusal.PICKLE_SUFFIXES)) {   // optimizer.pt, .bin, ...
        Path p = checkpointDir.resolve("optimizer" + suffix);
        if (Files.isRegularFile(p) && PickleRefusal.isPickleName(p)) {
          throw new CheckpointFormatException(p, null, "is a PyTorch pickle of the optimizer "
              + "state and " + FILE + " is missing; pickles are never opened (loading one can run arbitrary code).",
              conversionHint());
        }
      }
      throw new CheckpointFormatException(file, null, "does not exist: the checkpoint has no saved Adam state.",
          "train with AdamW (our trainer writes it beside every checkpoint; SGD runs have none), convert a Trainer's "
              + "optimizer.pt (" + conversionHint() + "), or set extract.optimizer-preconditioning = \"none\".");
    }
    Map<String, TensorInfo> weights = new TreeMap<>();
    try (Checkpoint c = Checkpoint.open(checkpointDir)) {
      for (String n : c.tensorNames()) {
        weights.put(n, c.info(n));
      }
    }
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      Settings settings = settings(file, f.metadata());
      Map<String, float[]> v = new LinkedHashMap<>();
      Map<String, long[]> shapes = new LinkedHashMap<>();
      for (String name : f.names()) {
        String base = name.endsWith(SECOND_MOMENT) ? name.substring(0, name.length() - SECOND_MOMENT.length())
            : name.endsWith(FIRST_MOMENT) ? name.substring(0, name.length() - FIRST_MOMENT.length()) : null;
        if (base == null) {
          throw new CheckpointFormatException(file, name, "ends with neither " + SECOND_MOMENT + " nor " + FIRST_MOMENT
              + ".", "name each moment after its parameter's tensor in model.safetensors plus " + SECOND_MOMENT + " or "
              + FIRST_MOMENT + ".");
        }
        TensorInfo w = weights.get(base);
        long[] shape = f.info(name).shape();
        if (w == null) {
          throw new CheckpointFormatException(file, name, "belongs to parameter '" + base + "', which the checkpoint's "
              + "weights do not have (e.g. " + NameHints.near(List.copyOf(weights.keySet()), base) + ").",
              "use the tensor names of model.safetensors (GPT-2's with their 'transformer.' prefix); this state may be "
              + "from another model.");
        }
        if (!Arrays.equals(shape, w.shape())) {
          throw new CheckpointFormatException(file, name, "has shape " + Arrays.toString(shape) + " but parameter '"
              + base + "' is " + Arrays.toString(w.shape()) + ".", "save each moment in its parameter's shape (a "
              + "flattened or transposed state is from another layout, or the state is from another model).");
        }
        float[] x = f.readFloats(name);   // refuses NaN and Inf, naming the element
        if (name.endsWith(SECOND_MOMENT)) {
          for (int i = 0; i < x.length; i++) {
            if (x[i] < 0) {
              throw new CheckpointFormatException(file, name, "element " + i + " is " + x[i] + " but a second moment "
                  + "(a running mean of squared gradients) is never negative.", "this is not Adam's exp_avg_sq; "
                  + "re-save the state.");
            }
          }
          v.put(base, x);
          shapes.put(base, shape);
        }
      }
      if (v.isEmpty()) {
        throw new CheckpointFormatException(file, null, "holds no " + SECOND_MOMENT + " tensor.",
            "save Adam's exp_avg_sq of every trained parameter as <parameter name>" + SECOND_MOMENT + ".");
      }
      return new OptimizerState(file, sha256(file), settings, v, shapes);
    }
  }

  private static Settings settings(Path file, Map<String, String> meta) throws CheckpointFormatException {
    if (!FORMAT.equals(meta.get("format"))) {
      throw new CheckpointFormatException(file, null, "has __metadata__ format " + meta.get("format") + ", not "
          + FORMAT + ".", "write the metadata keys format, optimizer, step, beta1, beta2, eps, weight_decay ("
          + conversionHint() + ").");
    }
    String optimizer = meta.get("optimizer");
    if (optimizer == null || !(optimizer.equals("adamw") || optimizer.equals("adam"))) {
      throw new CheckpointFormatException(file, null, "records optimizer " + optimizer + "; only Adam/AdamW states "
          + "have second moments to precondition with.", "set extract.optimizer-preconditioning = \"none\".");
    }
    try {
      return new Settings(optimizer, Long.parseLong(required(file, meta, "step")),
          Double.parseDouble(required(file, meta, "beta1")), Double.parseDouble(required(file, meta, "beta2")),
          Double.parseDouble(required(file, meta, "eps")), Double.parseDouble(required(file, meta, "weight_decay")));
    } catch (IllegalArgumentException e) {   // NumberFormatException included
      throw new CheckpointFormatException(file, null, "has bad optimizer metadata " + meta + ": " + e.getMessage() + ".",
          "step is the number of updates applied (>= 1); betas in [0, 1), eps > 0, as decimal strings.", e);
    }
  }

  private static String required(Path file, Map<String, String> meta, String key) throws CheckpointFormatException {
    String v = meta.get(key);
    if (v == null) {
      throw new CheckpointFormatException(file, null, "lacks __metadata__ key '" + key + "'.",
          "write the metadata keys format, optimizer, step, beta1, beta2, eps, weight_decay.");
    }
    return v;
  }

  /**
   * How to turn a Hugging Face Trainer's pickled {@code optimizer.pt} into {@value #FILE} (run once, in a sandbox
   * you trust, in the checkpoint folder; PyTorch numbers the parameters in {@code model.named_parameters()} order).
   */
  public static String conversionHint() {
    return "convert it once, in a sandbox you trust, inside the checkpoint folder, with NAMES = the trained "
        + "parameters' names in the order the optimizer was given them (a Hugging Face Trainer: its weight-decay group, "
        + "then its no-decay group, each in model.named_parameters() order): python -c \"import torch; "
        + "from safetensors.torch import save_file; o=torch.load('optimizer.pt', weights_only=True); "
        + "g=o['param_groups'][0]; idx=[i for q in o['param_groups'] for i in q['params']]; name=dict(zip(idx, NAMES)); "
        + "t={}; [t.update({name[i]+'.exp_avg_sq': s['exp_avg_sq'].float().contiguous(), "
        + "name[i]+'.exp_avg': s['exp_avg'].float().contiguous()}) for i,s in o['state'].items()]; "
        + "save_file(t, 'optimizer.safetensors', {'format': 'influence-optimizer/1', 'optimizer': 'adamw', "
        + "'step': str(int(next(iter(o['state'].values()))['step'])), 'beta1': str(g['betas'][0]), "
        + "'beta2': str(g['betas'][1]), 'eps': str(g['eps']), 'weight_decay': str(g['weight_decay'])})\" "
        + "(tensor names: each parameter's name in model.safetensors plus .exp_avg_sq / .exp_avg)";
  }

  /** The file read. */
  public Path file() {
    return file;
  }

  /** SHA-256 of the file's bytes (hex): what a gradient store records so it is not reused with other state. */
  public String sha256() {
    return sha256;
  }

  public Settings settings() {
    return settings;
  }

  /** Parameter tensor names that have a second moment, in file order. */
  public List<String> parameters() {
    return List.copyOf(secondMoments.keySet());
  }

  /**
   * The second moment {@code v} of parameter {@code name} (row-major, the parameter's shape; not copied: do not
   * modify), or of {@code prefix + name} for a caller that names parameters without the weights file's prefix.
   *
   * @throws CheckpointFormatException when neither is present
   */
  public float[] secondMoment(String name, String prefix) throws CheckpointFormatException {
    float[] v = secondMoments.get(name);
    if (v == null) {
      v = secondMoments.get(prefix + name);
    }
    if (v == null) {
      throw new CheckpointFormatException(file, name + SECOND_MOMENT, "is missing: the state has no second moment for "
          + "parameter " + name + " (it holds " + NameHints.near(parameters(), name) + ").",
          "save the state of every trained parameter, or track only trained layers (extract.layers).");
    }
    return v;
  }

  /** The shape of {@code name}'s moments, under the same lookup as {@link #secondMoment}. */
  public long[] shape(String name, String prefix) {
    long[] s = shapes.get(name);
    return (s != null ? s : shapes.get(prefix + name)).clone();
  }

  static String sha256(Path file) throws CheckpointFormatException {
    return TrainingRuns.sha256OfFiles(List.of(file));
  }
}
