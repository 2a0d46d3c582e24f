package io.influence.spark.io;

import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.checkpoints.TrainingRun;
import io.influence.checkpoints.TrainingRuns;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Training runs wherever they are. The {@code checkpoints} module reads a run from a local folder (it memory-maps
 * {@code model.safetensors}), so a run on another file system ({@code hdfs://}, {@code s3a://}, ...) is first
 * <em>localised</em>: its files are copied into a local cache folder and the existing readers are handed the copy.
 *
 * <ul>
 *   <li><b>On the driver</b> ({@link #read}): the whole run folder is copied to
 *       {@code <cache>/run-<key>/}, where the key hashes the run's URI and every file's relative path, length and
 *       modification time; a run changed in place gets a new key, an unchanged one is copied once per machine.
 *       {@link TrainingRuns#read} then reads the copy as usual (and hashes its safetensors), so every
 *       {@link RunCheckpoint#dir()} is a local folder and driver code (query gradients, the report) is unchanged.</li>
 *   <li><b>On executors</b> tasks are given {@link #location} of a checkpoint, the remote folder's URI, and
 *       {@link #checkpointDir} copies that one folder to {@code <cache>/checkpoint-<sha256>/} the first time a task
 *       of that JVM needs it, then checks its SHA-256 against the one the driver read (a checkpoint replaced while
 *       the job ran is an error, not a silent mix). In local mode the driver's copy is reused.</li>
 * </ul>
 *
 * <p>What is copied: {@code *.json} (config, manifest, trainer state, shard index, tokenizer), {@code *.safetensors},
 * {@code *.txt} and {@code *.model}. Every other file (optimizer states, pickles, logs) becomes an empty placeholder
 * of the same name, so listings and the refusal of pickle checkpoints read the same as on the remote folder while
 * nothing large is copied for nothing. Copies appear by an atomic rename of a finished temporary folder, so
 * concurrent tasks never see half a copy. The cache folder is {@value Locations#CACHE_DIR_KEY} of the Hadoop
 * settings ({@code spark.hadoop.influence.cache.dir}), by default {@code <java.io.tmpdir>/influence-cache-<user>};
 * it is never cleaned automatically. Local runs ({@code file:} or no scheme) are read in place.
 */
public final class Runs {

  private static final Logger LOG = LoggerFactory.getLogger(Runs.class);

  /** Local copy of a checkpoint folder → its remote location (filled on the driver, read when building tasks). */
  private static final Map<String, String> REMOTE_OF_LOCAL = new ConcurrentHashMap<>();
  /** {@code location#sha256} → local copy, for every copy this JVM made or found. */
  private static final Map<String, java.nio.file.Path> LOCAL_OF_REMOTE = new ConcurrentHashMap<>();

  private Runs() {}

  /** The run at {@code location} (a user's string; see {@link Locations#resolve}), localised when remote. */
  public static TrainingRun read(Configuration conf, String location, OptionalDouble constantLearningRate)
      throws CheckpointFormatException {
    return read(conf, Locations.resolve(conf, location), constantLearningRate);
  }

  /** The run in folder {@code run}, localised when it is not on the local file system. */
  public static TrainingRun read(Configuration conf, Path run, OptionalDouble constantLearningRate)
      throws CheckpointFormatException {
    if (Locations.isLocal(run)) {
      return TrainingRuns.read(Locations.toLocal(run), constantLearningRate);
    }
    FileStatus status = Locations.status(conf, run);
    if (status == null || !status.isDirectory()) {
      throw new IllegalArgumentException("training run " + run + (status == null ? " does not exist" : " is not a folder")
          + ". HINT: pass the training run folder (holding influence-run.json or checkpoint-N folders)");
    }
    List<LocatedFileStatus> files = listRecursively(conf, run);
    StringBuilder key = new StringBuilder(run.toString()).append('\n');
    String prefix = run.toUri().getPath();
    for (LocatedFileStatus f : files) {
      key.append(relative(prefix, f.getPath())).append('\t').append(f.getLen()).append('\t')
          .append(f.getModificationTime()).append('\n');
    }
    java.nio.file.Path local = cacheRoot(conf).resolve("run-" + sha256(key.toString()).substring(0, 32));
    if (!Files.isDirectory(local)) {
      LOG.info("copying training run {} to {}", run, local);
      copyAtomically(local, tmp -> {
        for (LocatedFileStatus f : files) {
          copyOrPlaceholder(conf, f.getPath(), tmp.resolve(relative(prefix, f.getPath())));
        }
      });
    }
    java.nio.file.Path base = local.resolve(run.getName());
    TrainingRun read = TrainingRuns.read(base, constantLearningRate);
    java.nio.file.Path realBase = base.toAbsolutePath().normalize();
    for (RunCheckpoint c : read.checkpoints()) {
      java.nio.file.Path dir = c.dir().toAbsolutePath().normalize();
      String rel = realBase.relativize(dir).toString().replace('\\', '/');
      String remote = rel.isEmpty() ? run.toString() : new Path(run, rel).toString();
      REMOTE_OF_LOCAL.put(c.dir().toString(), remote);
      LOCAL_OF_REMOTE.put(remote + "#" + c.sha256(), c.dir());
    }
    return read;
  }

  /**
   * Where tasks find checkpoint {@code c}: the remote folder's URI when {@link #read} localised its run, else its
   * local folder. Give this to tasks, and {@link #checkpointDir} on the executor turns it back into a local folder.
   */
  public static String location(RunCheckpoint c) {
    return REMOTE_OF_LOCAL.getOrDefault(c.dir().toString(), c.dir().toString());
  }

  /**
   * The local folder of the checkpoint at {@code location} ({@link #location}) with content hash {@code sha256}:
   * the folder itself when local, else this JVM's copy, made on first use and checked against {@code sha256}.
   */
  public static java.nio.file.Path checkpointDir(Configuration conf, String location, String sha256) {
    if (isLocalString(location)) {
      return localPath(location);
    }
    return LOCAL_OF_REMOTE.computeIfAbsent(location + "#" + sha256, k -> {
      Path remote = new Path(location);
      java.nio.file.Path local = cacheRoot(conf).resolve("checkpoint-" + sha256);
      if (!Files.isDirectory(local)) {
        LOG.info("copying checkpoint {} to {}", remote, local);
        copyAtomically(local, tmp -> {
          for (FileStatus f : Locations.list(conf, remote)) {
            if (f.isFile()) {
              copyOrPlaceholder(conf, f.getPath(), tmp.resolve(f.getPath().getName()));
            }
          }
          String copied;
          try {
            copied = TrainingRuns.sha256(tmp);
          } catch (CheckpointFormatException e) {
            throw new IllegalStateException("cannot hash the copy of checkpoint " + remote + ": " + e.getMessage(), e);
          }
          if (!copied.equals(sha256)) {
            throw new IllegalStateException("checkpoint " + remote + " has SHA-256 " + copied + " but the driver read "
                + sha256 + ". HINT: the checkpoint was replaced while the job ran; do not change a run in use");
          }
        });
      }
      return local;
    });
  }

  /**
   * A local copy of one small file of a checkpoint folder ({@code tokenizer.json}), or empty when it does not
   * exist; local locations are returned as they are.
   */
  public static java.util.Optional<java.nio.file.Path> localFile(Configuration conf, String folderLocation,
      String name) {
    if (isLocalString(folderLocation)) {
      java.nio.file.Path p = localPath(folderLocation).resolve(name);
      return Files.isRegularFile(p) ? java.util.Optional.of(p) : java.util.Optional.empty();
    }
    Path remote = new Path(new Path(folderLocation), name);
    FileStatus s = Locations.status(conf, remote);
    if (s == null || !s.isFile()) {
      return java.util.Optional.empty();
    }
    java.nio.file.Path local = cacheRoot(conf).resolve("file-" + sha256(remote + "\t" + s.getLen() + "\t"
        + s.getModificationTime()).substring(0, 32)).resolve(name);
    if (!Files.isRegularFile(local)) {
      copyAtomically(local.getParent(), tmp -> copyOrPlaceholder(conf, remote, tmp.resolve(name)));
    }
    return java.util.Optional.of(local);
  }

  // ------------------------------------------------------------------ helpers

  private static boolean isLocalString(String location) {
    if (!location.contains(":")) {
      return true;
    }
    return Locations.isLocal(new Path(location));
  }

  private static java.nio.file.Path localPath(String location) {
    return location.startsWith("file:") ? Locations.toLocal(new Path(location)) : java.nio.file.Path.of(location);
  }

  static java.nio.file.Path cacheRoot(Configuration conf) {
    String dir = conf.get(Locations.CACHE_DIR_KEY);
    if (dir == null || dir.isBlank()) {
      dir = java.nio.file.Path.of(System.getProperty("java.io.tmpdir"), "influence-cache-"
          + System.getProperty("user.name", "user")).toString();
    }
    return java.nio.file.Path.of(dir).toAbsolutePath();
  }

  private static List<LocatedFileStatus> listRecursively(Configuration conf, Path dir) {
    List<LocatedFileStatus> out = new ArrayList<>();
    try {
      RemoteIterator<LocatedFileStatus> it = Locations.fs(conf, dir).listFiles(dir, true);
      while (it.hasNext()) {
        out.add(it.next());
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
    }
    out.sort(Comparator.comparing(f -> f.getPath().toString()));
    return out;
  }

  /** {@code file}'s path below the run folder {@code prefix}, beginning with the run folder's own name. */
  private static String relative(String prefix, Path file) {
    String p = file.toUri().getPath();
    String parent = new Path(prefix).getParent() == null ? "/" : new Path(prefix).getParent().toUri().getPath();
    String rel = p.substring(parent.length());
    return rel.startsWith("/") ? rel.substring(1) : rel;
  }

  private static boolean copied(String name) {
    String n = name.toLowerCase(Locale.ROOT);
    return n.endsWith(".json") || n.endsWith(".safetensors") || n.endsWith(".txt") || n.endsWith(".model");
  }

  private static void copyOrPlaceholder(Configuration conf, Path remote, java.nio.file.Path local) {
    try {
      Files.createDirectories(local.getParent());
      if (!copied(remote.getName())) {
        Files.createFile(local);
        return;
      }
      FileSystem fs = Locations.fs(conf, remote);
      try (var in = fs.open(remote)) {
        Files.copy(in, local);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot copy " + remote + " to " + local + ": " + e.getMessage(), e);
    }
  }

  private interface Filler {
    void fill(java.nio.file.Path tmp) throws IOException;
  }

  /** Fills a temporary folder beside {@code target} and renames it to {@code target}; a concurrent winner is kept. */
  private static void copyAtomically(java.nio.file.Path target, Filler filler) {
    java.nio.file.Path tmp = target.resolveSibling("." + target.getFileName() + "-" + UUID.randomUUID());
    try {
      Files.createDirectories(tmp);
      filler.fill(tmp);
      try {
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
      } catch (IOException e) {
        if (!Files.isDirectory(target)) {
          throw e;
        }
        // another task of this machine finished the same copy first: keep it
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot copy into the local cache " + target + ": " + e.getMessage()
          + ". HINT: set spark.hadoop." + Locations.CACHE_DIR_KEY + " to a writable local folder", e);
    } finally {
      Locations.deleteLocal(tmp);
    }
  }

  /** SHA-256 of {@code s} (UTF-8), lower-case hex. */
  public static String sha256(String s) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every Java platform", e);
    }
  }
}
