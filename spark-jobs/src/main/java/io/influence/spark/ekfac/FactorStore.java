package io.influence.spark.ekfac;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.checkpoints.CheckpointFormatException;
import io.influence.core.grad.Preconditioner;
import io.influence.ekfac.Damping;
import io.influence.ekfac.FactorFiles;
import io.influence.ekfac.KroneckerPreconditioners;
import io.influence.ekfac.LayerFactors;
import io.influence.spark.io.Locations;
import io.influence.spark.io.SerializableConf;
import io.influence.spark.store.AtomicOutput;
import io.influence.spark.store.StoreMetadata;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * EK-FAC factors on disk, one folder per checkpoint, named like the gradient store's:
 * <pre>
 *   factors/
 *     step-100/                    visible only when complete (written as _tmp-uuid, then renamed)
 *       h.0.attn.c_attn.safetensors  one FactorFiles file per layer (Q_A, eigenvalues_A, Q_S, eigenvalues_S, lambda)
 *       ...
 *       _factors.json              written last: checkpoint, sha256, fit id, and the gradient store metadata the
 *                                  factors were fitted for (their space: layers, shapes, projection and seed)
 *     _tmp-1b2c.../                a crashed fit; ignored, deleted by the next fit
 * </pre>
 * Each layer's factors live in the store's space: {@code [kOut, kIn]} projected or {@code [dOut, dIn+1]} full, so
 * {@code dIn} of the factor file is the store layer's {@code cols} and {@code dOut} its {@code rows}. The folder may
 * be on any Hadoop file system ({@link Locations}); the driver writes, executors read. Safetensors are written and
 * read as local files, so on another file system a checkpoint's folder is written locally and copied into the
 * temporary folder before the rename, and read from a local copy that is deleted after reading.
 */
public final class FactorStore {

  public static final String MARKER = "_factors.json";
  public static final String FORMAT = "influence-ekfac-checkpoint/1";
  static final String TMP_PREFIX = "_tmp-";  // the same as AtomicOutput's

  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * Contents of {@value #MARKER}; {@code fisher} says which curvature was fitted ({@code empirical}, or {@code true
   * (seed N)}; absent in markers written before it was recorded, which were all empirical).
   */
  public record Marker(String format, String checkpoint, String sha256, String fitId, String store,
                       long covarianceExamples, long correctionExamples, String fisher) {
    public Marker {
      fisher = fisher == null ? "empirical" : fisher;
    }
  }

  private FactorStore() {}

  public static Path folder(Path root, String checkpoint) {
    return new Path(root, checkpoint);
  }

  /** The folder of a checkpoint in a local factor folder. */
  public static java.nio.file.Path folder(java.nio.file.Path root, String checkpoint) {
    return root.resolve(checkpoint);
  }

  /** True when the checkpoint's folder holds its marker (written last). */
  public static boolean isComplete(Path root, String checkpoint) {
    return Locations.isFile(Locations.conf(), new Path(folder(root, checkpoint), MARKER));
  }

  /** {@link #isComplete(Path, String)} of a local factor folder. */
  public static boolean isComplete(java.nio.file.Path root, String checkpoint) {
    return isComplete(Locations.local(root), checkpoint);
  }

  /** Names of the complete checkpoint folders, sorted by name. */
  public static List<String> checkpoints(Path root) {
    Configuration conf = Locations.conf();
    return Locations.list(conf, root).stream()
        .filter(s -> s.isDirectory() && !s.getPath().getName().startsWith("_")
            && Locations.isFile(conf, new Path(s.getPath(), MARKER)))
        .map(s -> s.getPath().getName()).sorted().toList();
  }

  public static Marker marker(Path root, String checkpoint) {
    Path file = new Path(folder(root, checkpoint), MARKER);
    try {
      Marker m = JSON.readValue(Locations.readString(Locations.conf(), file), Marker.class);
      if (!FORMAT.equals(m.format()) || !checkpoint.equals(m.checkpoint())) {
        throw new IllegalArgumentException(file + " has format " + m.format() + " for checkpoint " + m.checkpoint()
            + ", expected " + FORMAT + " for " + checkpoint + ". HINT: delete " + folder(root, checkpoint)
            + " and re-run fit-ekfac");
      }
      return m;
    } catch (IOException | UncheckedIOException e) {
      throw new IllegalArgumentException("cannot read " + file + ": " + e.getMessage() + ". HINT: delete "
          + folder(root, checkpoint) + " and re-run fit-ekfac", e);
    }
  }

  /**
   * True when the complete factors of {@code meta.checkpoint()} were fitted in the same gradient space but from other
   * gradients (the checkpoint or the corpus changed and extract wrote them again, or a principal projection's matrices
   * were fitted again): they are stale and are refitted.
   */
  public static boolean isStale(Path root, StoreMetadata meta) {
    Marker m = marker(root, meta.checkpoint());
    StoreMetadata fitted = StoreMetadata.fromJson(m.store(), new Path(folder(root, meta.checkpoint()), MARKER)
        .toString());
    return fitted.sameLayout(meta) && (!fitted.sameInputs(meta)   // a principal store refits its matrices with them
        || !java.util.Objects.equals(fitted.projectionSha256(), meta.projectionSha256()));
  }

  /**
   * Throws when the complete factors of {@code meta.checkpoint()} were fitted for another gradient space or
   * checkpoint content than {@code meta} describes.
   */
  public static void requireSameSpace(Path root, StoreMetadata meta) {
    Marker m = marker(root, meta.checkpoint());
    StoreMetadata fitted = StoreMetadata.fromJson(m.store(), new Path(folder(root, meta.checkpoint()), MARKER)
        .toString());
    if (!fitted.sameGradientSpace(meta) || !java.util.Objects.equals(fitted.sha256(), meta.sha256())) {
      throw new IllegalStateException(folder(root, meta.checkpoint()) + " holds factors fitted for " + fitted.layers()
          + " " + fitted.projectionDescription() + " (checkpoint sha256 " + fitted.sha256() + ") but the gradient store"
          + " now holds " + meta.layers() + " " + meta.projectionDescription() + " (sha256 " + meta.sha256()
          + "). HINT: re-run fit-ekfac with --overwrite, or delete that folder");
    }
  }

  /**
   * The corrected factors of one checkpoint, checked against the store's layers and shapes ({@code [rows, cols]} =
   * {@code [dOut, dIn]}); keyed by layer in the store's order.
   */
  public static Map<String, LayerFactors> read(Path root, StoreMetadata meta) {
    String checkpoint = meta.checkpoint();
    if (!isComplete(root, checkpoint)) {
      throw new IllegalStateException("no EK-FAC factors for checkpoint '" + checkpoint + "' in " + root
          + " (complete: " + checkpoints(root) + "). HINT: run `influence fit-ekfac` first");
    }
    requireSameSpace(root, meta);
    Map<String, LayerFactors> all = readFolder(Locations.conf(), folder(root, checkpoint));
    Map<String, LayerFactors> out = new LinkedHashMap<>();
    for (StoreMetadata.Layer l : meta.layers()) {
      LayerFactors f = all.get(l.name());
      if (f == null || f.dOut() != l.rows() || f.dIn() != l.cols() || !f.corrected()) {
        throw new IllegalStateException(folder(root, checkpoint) + ": layer '" + l.name() + "' needs corrected factors"
            + " with dOut=" + l.rows() + ", dIn=" + l.cols() + ", found " + (f == null ? "none" : "dOut=" + f.dOut()
            + ", dIn=" + f.dIn() + (f.corrected() ? "" : ", uncorrected")) + ". HINT: delete the folder and re-run"
            + " fit-ekfac");
      }
      out.put(l.name(), f);
    }
    return out;
  }

  /** {@link #read(Path, StoreMetadata)} of a local factor folder. */
  public static Map<String, LayerFactors> read(java.nio.file.Path root, StoreMetadata meta) {
    return read(Locations.local(root), meta);
  }

  /** Every layer's factors in one checkpoint folder, read from a local copy when the folder is remote. */
  static Map<String, LayerFactors> readFolder(Configuration conf, Path dir) {
    java.nio.file.Path copy = null;
    try {
      java.nio.file.Path local;
      if (Locations.isLocal(dir)) {
        local = Locations.toLocal(dir);
      } else {
        copy = Locations.localTemporary("factors-");
        local = copy.resolve(dir.getName());
        Locations.download(conf, dir, local);
      }
      return FactorFiles.readAll(local);
    } catch (CheckpointFormatException e) {
      throw new IllegalStateException(e.getMessage(), e);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read factors in " + dir + ": " + e.getMessage(), e);
    } finally {
      Locations.deleteLocal(copy);
    }
  }

  /** EK-FAC preconditioner {@code (H + λI)⁻¹} of one checkpoint, for query gradients in the store's space. */
  public static Preconditioner preconditioner(Path root, StoreMetadata meta, Damping damping) {
    return KroneckerPreconditioners.ekfac(read(root, meta), damping);
  }

  /**
   * A self-influence preconditioner (serialisable) that loads each checkpoint's factors once per executor JVM. The
   * factors of {@code metas} are checked here, on the driver.
   */
  public static Preconditioner.PerCheckpoint selfPreconditioner(Path root, List<StoreMetadata> metas, Damping damping) {
    Map<String, String> fitIds = new LinkedHashMap<>();
    for (StoreMetadata m : metas) {
      read(root, m);
      fitIds.put(m.checkpoint(), marker(root, m.checkpoint()).fitId());
    }
    return new EkfacSelfPreconditioner(root.toString(), fitIds, damping.mode().name(), damping.value(),
        new SerializableConf(Locations.conf()));
  }

  /**
   * Writes one checkpoint's factors atomically: a {@code _tmp-*} folder with every layer file and the marker last,
   * renamed to {@code root/checkpoint}. Deletes leftovers of crashed fits first.
   */
  static void write(Path root, StoreMetadata meta, Map<String, LayerFactors> factors, String fisher) {
    Configuration conf = Locations.conf();
    FileSystem fs = Locations.fs(conf, root);
    Locations.mkdirs(conf, root);
    int cleaned = AtomicOutput.cleanTemporaries(fs, root);
    if (cleaned > 0) {
      org.slf4j.LoggerFactory.getLogger(FactorStore.class).info("deleted {} unfinished fit(s) under {}", cleaned, root);
    }
    Path target = folder(root, meta.checkpoint());
    // no marker (it is checked before fitting): an incomplete folder, safe to replace
    Locations.deleteRecursively(conf, target);
    Path tmp = AtomicOutput.newTemporary(root);
    java.nio.file.Path staging = null;
    try {
      if (Locations.isLocal(tmp)) {
        FactorFiles.writeAll(Locations.toLocal(tmp), factors, null);
      } else {
        staging = Locations.localTemporary("factors-");
        FactorFiles.writeAll(staging.resolve("layers"), factors, null);
        Locations.upload(conf, staging.resolve("layers"), tmp);
      }
      LayerFactors any = factors.values().iterator().next();
      Marker m = new Marker(FORMAT, meta.checkpoint(), meta.sha256(), UUID.randomUUID().toString(), meta.toJson(),
          any.examples(), any.correctionExamples(), fisher);
      Locations.writeDirectly(conf, new Path(tmp, MARKER), JSON.writeValueAsString(m));
      AtomicOutput.publish(fs, tmp, target);
    } catch (JsonProcessingException e) {
      AtomicOutput.deleteQuietly(fs, tmp);
      throw new IllegalStateException("cannot write the factor marker: " + e.getMessage(), e);
    } catch (IOException e) {
      AtomicOutput.deleteQuietly(fs, tmp);
      throw new UncheckedIOException("cannot write factors of " + meta.checkpoint() + " under " + root + ": "
          + e.getMessage(), e);
    } catch (RuntimeException e) {
      AtomicOutput.deleteQuietly(fs, tmp);
      throw e;
    } finally {
      Locations.deleteLocal(staging);
    }
  }
}
