package io.influence.spark.ekfac;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.checkpoints.CheckpointFormatException;
import io.influence.core.grad.Preconditioner;
import io.influence.ekfac.Damping;
import io.influence.ekfac.FactorFiles;
import io.influence.ekfac.KroneckerPreconditioners;
import io.influence.ekfac.LayerFactors;
import io.influence.spark.selfinf.SelfPreconditioner;
import io.influence.spark.store.StoreMetadata;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;

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
 * {@code dIn} of the factor file is the store layer's {@code cols} and {@code dOut} its {@code rows}. A local (or
 * mounted shared) file system path; the driver writes, executors read.
 */
public final class FactorStore {

  public static final String MARKER = "_factors.json";
  public static final String FORMAT = "influence-ekfac-checkpoint/1";
  static final String TMP_PREFIX = "_tmp-";

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Contents of {@value #MARKER}. */
  public record Marker(String format, String checkpoint, String sha256, String fitId, String store,
                       long covarianceExamples, long correctionExamples) {}

  private FactorStore() {}

  public static Path folder(Path root, String checkpoint) {
    return root.resolve(checkpoint);
  }

  /** True when the checkpoint's folder holds its marker (written last). */
  public static boolean isComplete(Path root, String checkpoint) {
    return Files.isRegularFile(folder(root, checkpoint).resolve(MARKER));
  }

  /** Names of the complete checkpoint folders, sorted by name. */
  public static List<String> checkpoints(Path root) {
    if (!Files.isDirectory(root)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(root)) {
      return s.filter(p -> !p.getFileName().toString().startsWith("_") && Files.isRegularFile(p.resolve(MARKER)))
          .map(p -> p.getFileName().toString()).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + root + ": " + e.getMessage(), e);
    }
  }

  public static Marker marker(Path root, String checkpoint) {
    Path file = folder(root, checkpoint).resolve(MARKER);
    try {
      Marker m = JSON.readValue(Files.readString(file), Marker.class);
      if (!FORMAT.equals(m.format()) || !checkpoint.equals(m.checkpoint())) {
        throw new IllegalArgumentException(file + " has format " + m.format() + " for checkpoint " + m.checkpoint()
            + ", expected " + FORMAT + " for " + checkpoint + ". HINT: delete " + folder(root, checkpoint)
            + " and re-run fit-ekfac");
      }
      return m;
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read " + file + ": " + e.getMessage() + ". HINT: delete "
          + folder(root, checkpoint) + " and re-run fit-ekfac", e);
    }
  }

  /**
   * Throws when the complete factors of {@code meta.checkpoint()} were fitted for another gradient space or
   * checkpoint content than {@code meta} describes.
   */
  public static void requireSameSpace(Path root, StoreMetadata meta) {
    Marker m = marker(root, meta.checkpoint());
    StoreMetadata fitted = StoreMetadata.fromJson(m.store(), folder(root, meta.checkpoint()).resolve(MARKER).toString());
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
    Map<String, LayerFactors> all = readFolder(folder(root, checkpoint));
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

  static Map<String, LayerFactors> readFolder(Path dir) {
    try {
      return FactorFiles.readAll(dir);
    } catch (CheckpointFormatException e) {
      throw new IllegalStateException(e.getMessage(), e);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read factors in " + dir + ": " + e.getMessage(), e);
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
  public static SelfPreconditioner selfPreconditioner(Path root, List<StoreMetadata> metas, Damping damping) {
    Map<String, String> fitIds = new LinkedHashMap<>();
    for (StoreMetadata m : metas) {
      read(root, m);
      fitIds.put(m.checkpoint(), marker(root, m.checkpoint()).fitId());
    }
    return new EkfacSelfPreconditioner(root.toString(), fitIds, damping.mode().name(), damping.value());
  }

  /**
   * Writes one checkpoint's factors atomically: a {@code _tmp-*} folder with every layer file and the marker last,
   * renamed to {@code root/checkpoint}. Deletes leftovers of crashed fits first.
   */
  static void write(Path root, StoreMetadata meta, Map<String, LayerFactors> factors) {
    try {
      Files.createDirectories(root);
      cleanTemporaries(root);
      Path target = folder(root, meta.checkpoint());
      if (Files.exists(target)) {
        // no marker (it is checked before fitting): an incomplete folder, safe to replace
        deleteRecursively(target);
      }
      Path tmp = root.resolve(TMP_PREFIX + UUID.randomUUID());
      try {
        FactorFiles.writeAll(tmp, factors, null);
        LayerFactors any = factors.values().iterator().next();
        Marker m = new Marker(FORMAT, meta.checkpoint(), meta.sha256(), UUID.randomUUID().toString(), meta.toJson(),
            any.examples(), any.correctionExamples());
        Files.writeString(tmp.resolve(MARKER), JSON.writeValueAsString(m));
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
      } catch (IOException | RuntimeException e) {
        deleteRecursively(tmp);
        throw e;
      }
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write the factor marker: " + e.getMessage(), e);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write factors of " + meta.checkpoint() + " under " + root + ": "
          + e.getMessage(), e);
    }
  }

  private static void cleanTemporaries(Path root) throws IOException {
    List<Path> tmp = new ArrayList<>();
    try (Stream<Path> s = Files.list(root)) {
      s.filter(p -> p.getFileName().toString().startsWith(TMP_PREFIX)).forEach(tmp::add);
    }
    for (Path p : tmp) {
      deleteRecursively(p);
    }
  }

  private static void deleteRecursively(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(p)) {
      for (Path q : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(q);
      }
    }
  }
}
