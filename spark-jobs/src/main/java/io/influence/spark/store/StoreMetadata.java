package io.influence.spark.store;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.core.score.LayerLayout;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What one checkpoint folder of a gradient store holds, written as {@code _store.json} next to the
 * Parquet files and, as the same JSON, into the Parquet footer (Spark's row metadata, field
 * metadata key {@value #PARQUET_KEY} of the {@code id} column).
 *
 * <p>Example {@code _store.json}:
 * <pre>{@code
 * {"format":"influence-gradient-store","formatVersion":2,"checkpoint":"step-100","step":100,
 *  "learningRate":0.001,"sha256":"9f2c...","layers":[{"name":"h.0.attn.c_attn","rows":32,"cols":16}],
 *  "projection":"kronecker-gaussian","projectionSeed":42,"lossConvention":"sum over completion tokens",
 *  "dtype":"float32","engineVersion":"0.1.0-SNAPSHOT","corpus":"rows=40;xxh64-sums=1f3a...:9c02..."}
 * }</pre>
 * {@code formatVersion} 2 stores each row's gradient as one fixed-length {@code binary} column of little-endian
 * float32 (byte map in {@link StoredRow}); version 1 stores, one {@code array<float>} column per layer, are still read.
 * {@code rows, cols} are {@code [dOut, dIn]} for full gradients ({@code projection = "full"},
 * {@code projectionSeed = null}) or {@code [kOut, kIn]} for projected ones; each stored array is
 * that matrix flattened row-major. Column name of a layer: {@link Layer#column()}. {@code corpus} is the content
 * fingerprint of the corpus the gradients were extracted from ({@code io.influence.spark.io.Corpus#fingerprint}).
 * {@code optimizerPreconditioning} says whether the gradients were divided by Adam's {@code √v̂ + ε} before the
 * projection ({@link OptimizerPreconditioning}; absent in older stores = none) and {@code optimizerSha256} is the
 * SHA-256 of the {@code optimizer.safetensors} that was used (null for none): both part of the gradient space and
 * of the inputs, so a store is never reused under the other choice or with other optimizer state.
 * A principal projection ({@code projection = "kronecker-principal KxK"}, {@link ProjectionBasis#PRINCIPAL}) has no
 * seed: {@code projectionSha256} is the SHA-256 of its matrices' file ({@link StoreProjections}), part of the gradient
 * space. {@code projectionFile}, where that file is, is not written: the store sets it when it reads the metadata,
 * so a store moved to another file system still finds its matrices.
 */
@JsonInclude(JsonInclude.Include.ALWAYS)
public record StoreMetadata(String format, int formatVersion, String checkpoint, long step, double learningRate,
    String sha256, List<Layer> layers, String projection, Long projectionSeed, String lossConvention, String dtype,
    String engineVersion, String corpus, OptimizerPreconditioning optimizerPreconditioning, String optimizerSha256,
    String projectionSha256, @JsonIgnore String projectionFile)
    implements Serializable {

  public static final String FORMAT = "influence-gradient-store";
  /**
   * The version this engine writes: 2, every layer of a row in one fixed-length {@code binary} column
   * ({@link StoredRow}). Version 1 (one {@code array<float>} column per layer) is still read.
   */
  public static final int FORMAT_VERSION = 2;
  /** The first version, one {@code array<float>} column per layer: read, no longer written. */
  public static final int FORMAT_VERSION_ARRAYS = 1;
  public static final String LOSS_SUM_OVER_COMPLETION = "sum over completion tokens";
  public static final String FLOAT32 = "float32";
  public static final String FULL = "full";
  /** Key of the JSON in the {@code id} column's Spark field metadata (kept in the Parquet footer). */
  public static final String PARQUET_KEY = "influence.store";

  private static final long serialVersionUID = 1L;
  private static final Pattern CHECKPOINT_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._+-]*");
  private static final ObjectMapper JSON = new ObjectMapper()
      .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

  /**
   * One stored layer: its name (as the model names it, e.g. {@code transformer.h.0.mlp.c_fc}) and the
   * {@code [rows, cols]} of its stored matrix.
   */
  public record Layer(String name, int rows, int cols) implements Serializable {
    private static final long serialVersionUID = 1L;

    public Layer {
      Objects.requireNonNull(name, "layer name");
      if (name.isEmpty() || name.contains("__") || name.startsWith("_") || name.contains("`")) {
        throw new IllegalArgumentException("layer name '" + name + "' cannot be stored: it must be non-empty, not start"
            + " with '_' and contain neither '__' nor '`'. HINT: use the model's parameter prefix, e.g. 'h.0.mlp.c_fc'.");
      }
      if (rows < 1 || cols < 1) {
        throw new IllegalArgumentException("layer '" + name + "' needs rows, cols >= 1, got [" + rows + ", " + cols + "]");
      }
    }

    /** The Parquet column of this layer: the name with every '.' replaced by "__". */
    @JsonIgnore
    public String column() {
      return columnOf(name);
    }

    @JsonIgnore
    public int size() {
      return Math.multiplyExact(rows, cols);
    }
  }

  public StoreMetadata {
    if (!FORMAT.equals(format)) {
      throw new IllegalArgumentException("format must be '" + FORMAT + "', got '" + format + "'");
    }
    if (formatVersion != FORMAT_VERSION && formatVersion != FORMAT_VERSION_ARRAYS) {
      throw new IllegalArgumentException("this engine reads gradient store format versions " + FORMAT_VERSION_ARRAYS
          + " and " + FORMAT_VERSION + ", got " + formatVersion + ". HINT: re-extract the gradients with this engine"
          + " version.");
    }
    Objects.requireNonNull(checkpoint, "checkpoint");
    if (!CHECKPOINT_NAME.matcher(checkpoint).matches()) {
      throw new IllegalArgumentException("checkpoint name '" + checkpoint + "' must match " + CHECKPOINT_NAME
          + " (it becomes a folder name). HINT: use e.g. 'step-100'.");
    }
    if (!Double.isFinite(learningRate) || learningRate < 0) {
      throw new IllegalArgumentException("checkpoint '" + checkpoint + "': learning rate must be finite and >= 0, got "
          + learningRate);
    }
    layers = List.copyOf(Objects.requireNonNull(layers, "layers"));
    if (layers.isEmpty()) {
      throw new IllegalArgumentException("checkpoint '" + checkpoint + "': a gradient store needs at least one layer");
    }
    Set<String> seen = new HashSet<>();
    for (Layer l : layers) {
      if (!seen.add(l.column())) {
        throw new IllegalArgumentException("checkpoint '" + checkpoint + "': layer '" + l.name()
            + "' appears twice (or two layers map to column '" + l.column() + "')");
      }
    }
    Objects.requireNonNull(projection, "projection");
    if (FULL.equals(projection) && projectionSeed != null) {
      throw new IllegalArgumentException("full gradients have no projection seed, got " + projectionSeed);
    }
    if (FULL.equals(projection) && projectionSha256 != null) {
      throw new IllegalArgumentException("full gradients have no projection matrices, got sha256 " + projectionSha256);
    }
    if (projectionSeed != null && projectionSha256 != null) {
      throw new IllegalArgumentException("projection '" + projection + "' records both a seed and a matrices file;"
          + " HINT: a seeded projection is rebuilt from its seed, a principal one is read from its file");
    }
    if (!FULL.equals(projection) && projectionSeed == null && projectionSha256 == null) {
      throw new IllegalArgumentException("projection '" + projection + "' needs its seed. HINT: record the seed used"
          + " to draw P_in and P_out so that queries can be projected the same way.");
    }
    Objects.requireNonNull(lossConvention, "lossConvention");
    if (!FLOAT32.equals(dtype)) {
      throw new IllegalArgumentException("stored gradients are float32, got dtype '" + dtype + "'");
    }
    Objects.requireNonNull(engineVersion, "engineVersion");
    optimizerPreconditioning = optimizerPreconditioning == null ? OptimizerPreconditioning.NONE
        : optimizerPreconditioning;
    if ((optimizerPreconditioning == OptimizerPreconditioning.NONE) != (optimizerSha256 == null)) {
      throw new IllegalArgumentException("checkpoint '" + checkpoint + "': optimizer preconditioning "
          + optimizerPreconditioning + " with optimizer state sha256 " + optimizerSha256 + "; HINT: Adam "
          + "preconditioning records the sha256 of the optimizer.safetensors it used, none records none");
    }
  }

  /** Metadata of the current format version, float32, loss summed over completion tokens. */
  public static StoreMetadata of(String checkpoint, long step, double learningRate, String sha256, List<Layer> layers,
      String projection, Long projectionSeed, String engineVersion) {
    return new StoreMetadata(FORMAT, FORMAT_VERSION, checkpoint, step, learningRate, sha256, layers, projection,
        projectionSeed, LOSS_SUM_OVER_COMPLETION, FLOAT32, engineVersion, null, OptimizerPreconditioning.NONE, null,
        null, null);
  }

  /**
   * This metadata recording a principal projection: no seed, the SHA-256 of its matrices' file, and where that file
   * is ({@code file}, a Hadoop location; not written to JSON).
   */
  public StoreMetadata withPrincipalProjection(String sha256, String file) {
    return new StoreMetadata(format, formatVersion, checkpoint, step, learningRate, this.sha256, layers, projection,
        null, lossConvention, dtype, engineVersion, corpus, optimizerPreconditioning, optimizerSha256,
        Objects.requireNonNull(sha256, "projection sha256"), Objects.requireNonNull(file, "projection file"));
  }

  /** This metadata with its projection file located at {@code file} (the store sets it when reading). */
  public StoreMetadata withProjectionFile(String file) {
    return new StoreMetadata(format, formatVersion, checkpoint, step, learningRate, sha256, layers, projection,
        projectionSeed, lossConvention, dtype, engineVersion, corpus, optimizerPreconditioning, optimizerSha256,
        projectionSha256, file);
  }

  /** This metadata recording Adam preconditioning with the optimizer state whose file hash is {@code sha256}. */
  public StoreMetadata withAdam(String sha256) {
    return new StoreMetadata(format, formatVersion, checkpoint, step, learningRate, this.sha256, layers, projection,
        projectionSeed, lossConvention, dtype, engineVersion, corpus, OptimizerPreconditioning.ADAM,
        Objects.requireNonNull(sha256, "optimizer state sha256"), projectionSha256, projectionFile);
  }

  /** This metadata recording the content fingerprint of the corpus the gradients are of (see Corpus.fingerprint). */
  public StoreMetadata withCorpus(String fingerprint) {
    return new StoreMetadata(format, formatVersion, checkpoint, step, learningRate, sha256, layers, projection,
        projectionSeed, lossConvention, dtype, engineVersion, fingerprint, optimizerPreconditioning, optimizerSha256,
        projectionSha256, projectionFile);
  }

  /**
   * True when the rows are packed (format 2: one {@code binary} column {@value StoredRow#COLUMN} of little-endian
   * float32, every layer of the row in {@link #layout()} order); false for format 1 (one {@code array<float>} column
   * per layer, {@link Layer#column()}).
   */
  @JsonIgnore
  public boolean packed() {
    return formatVersion >= FORMAT_VERSION;
  }

  /** This metadata with another format version (tests: a format-1 store). */
  public StoreMetadata withFormatVersion(int version) {
    return new StoreMetadata(format, version, checkpoint, step, learningRate, sha256, layers, projection,
        projectionSeed, lossConvention, dtype, engineVersion, corpus, optimizerPreconditioning, optimizerSha256,
        projectionSha256, projectionFile);
  }

  /** The same checkpoint (content hash), corpus (content fingerprint) and optimizer state (file hash) as {@code other}. */
  public boolean sameInputs(StoreMetadata other) {
    return Objects.equals(sha256, other.sha256) && Objects.equals(corpus, other.corpus)
        && Objects.equals(optimizerSha256, other.optimizerSha256);
  }

  /**
   * Refuses a store of Adam-preconditioned gradients for {@code what}, which builds store-space vectors from the
   * layers' token factors ({@code Σ_t (P_out g_t)(P_in a_t)ᵀ}): Adam's elementwise scaling does not factor that way.
   */
  public void requireUnpreconditioned(String what) {
    if (optimizerPreconditioning != OptimizerPreconditioning.NONE) {
      throw new IllegalStateException("the gradient store's checkpoint '" + checkpoint + "' was extracted with "
          + "extract.optimizer-preconditioning = \"adam\", but " + what + " computes its vectors from token factors, "
          + "which Adam's per-parameter scaling does not factor through. HINT: extract a store with "
          + "extract.optimizer-preconditioning = \"none\" into another output.dir for this method");
    }
  }

  /** The column name of a layer name: '.' becomes "__" (e.g. {@code h.0.mlp.c_fc} → {@code h__0__mlp__c_fc}). */
  public static String columnOf(String layer) {
    return layer.replace(".", "__");
  }

  /** Layer names in stored order. */
  @JsonIgnore
  public List<String> layerNames() {
    List<String> out = new ArrayList<>();
    for (Layer l : layers) {
      out.add(l.name());
    }
    return out;
  }

  /** Number of floats per row (Σ rows·cols). */
  @JsonIgnore
  public int dim() {
    int d = 0;
    for (Layer l : layers) {
      d = Math.addExact(d, l.size());
    }
    return d;
  }

  /** The influence-core layout with the same layer order and shapes (row-major flattening, same offsets). */
  public LayerLayout layout() {
    Map<String, long[]> shapes = new LinkedHashMap<>();
    for (Layer l : layers) {
      shapes.put(l.name(), new long[] {l.rows(), l.cols()});
    }
    return LayerLayout.of(layerNames(), shapes);
  }

  /** "full", or e.g. "kronecker-gaussian(seed=42)"; the shapes are in {@link #layers()}. */
  public String projectionDescription() {
    String space = FULL.equals(projection) ? FULL : projectionSha256 != null
        ? projection + " (matrices sha256 " + projectionSha256.substring(0, Math.min(12, projectionSha256.length())) + ")"
        : projection + "(seed=" + projectionSeed + ")";
    return optimizerPreconditioning == OptimizerPreconditioning.NONE ? space
        : "adam-preconditioned(optimizer.safetensors sha256 " + optimizerSha256.substring(0, Math.min(12, optimizerSha256.length())) + ") " + space;
  }

  /**
   * True when both describe the same stored vectors: layers, shapes, projection, loss convention, dtype and optimizer
   * preconditioning.
   */
  public boolean sameGradientSpace(StoreMetadata other) {
    return sameLayout(other) && Objects.equals(projectionSha256, other.projectionSha256);
  }

  /**
   * True when two checkpoints of one store hold comparable rows: {@link #sameGradientSpace} except for a principal
   * projection's matrices, which each checkpoint fits for itself (rows of one checkpoint meet only queries projected
   * with that checkpoint's matrices).
   */
  public boolean sameLayout(StoreMetadata other) {
    return layers.equals(other.layers) && projection.equals(other.projection)
        && Objects.equals(projectionSeed, other.projectionSeed) && lossConvention.equals(other.lossConvention)
        && dtype.equals(other.dtype) && optimizerPreconditioning == other.optimizerPreconditioning;
  }

  public String toJson() {
    try {
      return JSON.writeValueAsString(this);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write store metadata as JSON: " + e.getMessage(), e);
    }
  }

  /** Parses {@code _store.json} content; {@code source} (a file name) is named in errors. */
  public static StoreMetadata fromJson(String json, String source) {
    try {
      return JSON.readValue(json, StoreMetadata.class);
    } catch (JsonProcessingException | IllegalArgumentException e) {
      Throwable root = e;
      while (root.getCause() != null && root.getCause() != root) {
        root = root.getCause();
      }
      throw new IllegalArgumentException(source + ": not valid gradient store metadata: " + root.getMessage()
          + ". HINT: this file is written by the extract stage; re-run it for this checkpoint.", e);
    }
  }
}
