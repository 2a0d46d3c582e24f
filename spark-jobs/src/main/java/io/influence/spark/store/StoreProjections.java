package io.influence.spark.store;

import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.SafetensorsFile;
import io.influence.checkpoints.SafetensorsWriter;
import io.influence.core.model.KroneckerProjection;
import io.influence.spark.io.Locations;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The Kronecker projections of a store's checkpoint, the one way every stage gets them: seeded ones rebuilt from the
 * recorded seed ({@link KroneckerProjection#forLayers}), principal ones ({@link ProjectionBasis#PRINCIPAL}) read from
 * their matrices' file.
 *
 * <p>File: {@code <store>/_projections/<checkpoint>-<first 16 hex of its sha256>.safetensors}, float32 tensors
 * {@code <layer>/in} ({@code [kIn, dIn]}) and {@code <layer>/out} ({@code [kOut, dOut]}), metadata
 * {@code format = influence-projection/1}. The name carries the hash, so a refit never overwrites the matrices a
 * published checkpoint folder was made with; the store's metadata records the full hash, checked on every read.
 * Executors read the file through Hadoop (any file system) once per JVM and hash.
 */
public final class StoreProjections {

  public static final String FOLDER = "_projections";
  static final String FORMAT = "influence-projection/1";
  private static final Map<String, Map<String, KroneckerProjection>> CACHE =
      Collections.synchronizedMap(new LinkedHashMap<>(4, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Map<String, KroneckerProjection>> e) {
          return size() > 4;
        }
      });

  private StoreProjections() {}

  /**
   * The projections {@code meta}'s rows were made with, one per stored layer in stored order, as {@code dataType}
   * (FLOAT or DOUBLE); empty for a full store (after checking its shapes are the model's).
   *
   * @param fullShape each layer's full gradient shape {@code {dOut, dIn}} (e.g. {@code model::linearShape})
   */
  public static Map<String, KroneckerProjection> of(StoreMetadata meta, Function<String, int[]> fullShape,
                                                    DataType dataType) {
    if (meta.projectionSha256() == null) {
      return KroneckerProjection.forLayers(meta.layout(), fullShape, meta.projectionSeed(), dataType);
    }
    if (meta.projectionFile() == null) {
      throw new IllegalStateException("checkpoint '" + meta.checkpoint() + "' has a principal projection (sha256 "
          + meta.projectionSha256() + ") but no file location; read its metadata through GradientStore");
    }
    Map<String, KroneckerProjection> stored = CACHE.computeIfAbsent(meta.projectionSha256() + "@" + meta.projectionFile(),
        k -> read(Locations.conf(), new Path(meta.projectionFile()), meta.projectionSha256()));
    Map<String, KroneckerProjection> out = new LinkedHashMap<>();
    for (StoreMetadata.Layer l : meta.layers()) {
      KroneckerProjection p = stored.get(l.name());
      int[] d = fullShape.apply(l.name());
      if (p == null || p.kOut() != l.rows() || p.kIn() != l.cols() || p.dOut() != d[0] || p.dIn() != d[1]) {
        throw new IllegalArgumentException(meta.projectionFile() + " does not hold a [" + l.rows() + ", " + l.cols()
            + "] projection of layer '" + l.name() + "' with full gradients [" + d[0] + ", " + d[1] + "]"
            + (p == null ? "" : " (it holds [" + p.kOut() + " x " + p.dOut() + "] and [" + p.kIn() + " x " + p.dIn() + "])")
            + ". HINT: the store was extracted from another model; re-extract");
      }
      out.put(l.name(), p.withDataType(dataType));
    }
    return Collections.unmodifiableMap(out);
  }

  /** Where {@code checkpoint}'s matrices with hash {@code sha256} lie in {@code store}. */
  public static Path file(Path store, String checkpoint, String sha256) {
    return new Path(new Path(store, FOLDER), checkpoint + "-" + sha256.substring(0, 16) + ".safetensors");
  }

  /** Writes the matrices (as float32) atomically and returns their file's SHA-256 (the name holds its start). */
  public static String write(Configuration conf, Path store, String checkpoint, Map<String, KroneckerProjection> p) {
    SafetensorsWriter w = new SafetensorsWriter().metadata("format", FORMAT).metadata("checkpoint", checkpoint);
    for (KroneckerProjection k : p.values()) {
      w.put(k.layer() + "/in", new long[] {k.kIn(), k.dIn()}, floats(k.pIn()));
      w.put(k.layer() + "/out", new long[] {k.kOut(), k.dOut()}, floats(k.pOut()));
    }
    java.nio.file.Path tmp = Locations.localTemporary("projection-");
    try {
      java.nio.file.Path local = tmp.resolve("p.safetensors");
      w.write(local);
      byte[] bytes = java.nio.file.Files.readAllBytes(local);
      String sha = sha256(bytes);
      Path target = file(store, checkpoint, sha);
      if (!Locations.exists(conf, target)) {
        Locations.writeBytes(conf, target, bytes, null);
      }
      return sha;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the projection of checkpoint " + checkpoint + ": " + e.getMessage(), e);
    } finally {
      Locations.deleteLocal(tmp);
    }
  }

  private static float[] floats(INDArray m) {
    return m.castTo(DataType.FLOAT).dup('c').data().asFloat();
  }

  static Map<String, KroneckerProjection> read(Configuration conf, Path file, String sha256) {
    if (!Locations.exists(conf, file)) {
      throw new IllegalStateException(file + " is missing: the gradient store's principal projection (sha256 " + sha256
          + "). HINT: the store's _projections folder was deleted or not copied with it; re-extract the store");
    }
    byte[] bytes = Locations.readBytes(conf, file);
    String got = sha256(bytes);
    if (!got.equals(sha256)) {
      throw new IllegalStateException(file + " has sha256 " + got + " but the gradient store was extracted with "
          + sha256 + ". HINT: the file was modified after extraction; re-extract the store");
    }
    java.nio.file.Path tmp = Locations.localTemporary("projection-");
    try {
      java.nio.file.Path local = tmp.resolve("p.safetensors");
      java.nio.file.Files.write(local, bytes);
      Map<String, KroneckerProjection> out = new LinkedHashMap<>();
      try (SafetensorsFile f = SafetensorsFile.open(local)) {
        if (!FORMAT.equals(f.metadata().get("format"))) {
          throw new IllegalStateException(file + " is not a projection file (format " + f.metadata().get("format")
              + ", want " + FORMAT + ")");
        }
        for (String name : f.names()) {
          if (!name.endsWith("/in")) {
            continue;
          }
          String layer = name.substring(0, name.length() - 3);
          out.put(layer, KroneckerProjection.of(layer, matrix(f, name), matrix(f, layer + "/out")));
        }
      }
      return Collections.unmodifiableMap(out);
    } catch (IOException | CheckpointFormatException e) {
      throw new IllegalStateException("cannot read " + file + ": " + e.getMessage(), e);
    } finally {
      Locations.deleteLocal(tmp);
    }
  }

  private static INDArray matrix(SafetensorsFile f, String name) throws CheckpointFormatException {
    long[] shape = f.info(name).shape();
    return Nd4j.create(f.readFloats(name), shape, 'c');
  }

  static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 unavailable", e);
    }
  }
}
