package io.influence.spark.io;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.ChecksumFileSystem;
import org.apache.hadoop.fs.FileContext;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Options;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkEnv;
import org.apache.spark.sql.SparkSession;
import scala.Tuple2;

/**
 * Every file the engine reads or writes, through Hadoop's {@link FileSystem}: {@code hdfs://}, {@code s3a://},
 * {@code file:} and whatever else the classpath's Hadoop knows, the same way Spark opens its inputs.
 *
 * <p><b>Locations.</b> A user's string ({@code input.corpus}, {@code output.dir}, {@code --config}, ...) becomes a
 * qualified Hadoop {@link Path} with {@link #resolve}: a string with a scheme names that file system; one without
 * means the default file system ({@code fs.defaultFS}: the local one unless a cluster's {@code core-site.xml} or
 * {@code spark.hadoop.fs.defaultFS} says otherwise), relative to its working directory (the process's current
 * folder locally), exactly as Spark resolves {@code spark.read().parquet("x")}. A local {@code java.nio.file.Path}
 * becomes a {@code file:} path with {@link #local}.
 *
 * <p><b>Configuration.</b> Where a {@link SparkSession} is at hand its {@code hadoopConfiguration()} is used. Where
 * none is passed, {@link #conf()} finds one: on the driver, the active (or default) session's; inside a task
 * (an executor, or a task thread of local mode, where Spark hides the session) one built from the Spark conf
 * ({@code spark.hadoop.*} keys over the {@code core-site.xml} of the classpath, as Spark builds its own); before
 * any session exists (reading {@code --config}), the same from the {@code spark.hadoop.*} system properties that
 * spark-submit sets. Task objects that read files themselves (factor folders, Arrow data files) carry a
 * {@link SerializableConf} captured on the driver, so they also see settings made on the driver at run time;
 * checkpoint copies on executors ({@link Runs#checkpointDir}) use the task-side conf.
 *
 * <p><b>Small files</b> ({@code _settings.*.conf}, JSON markers, JSON Lines summaries, the HTML report) are read
 * whole and written atomically: into a hidden temporary file beside the target, then renamed over it (on a local
 * or HDFS file system a reader sees the old file or the new one, never half of one; object stores make a file
 * visible only when it is closed). On a local file system the raw file system is used, so no {@code .crc} side
 * files appear beside files that people edit and read.
 */
public final class Locations {

  /** Hadoop setting of the local folder that holds localised copies of remote runs (see {@link Runs}). */
  public static final String CACHE_DIR_KEY = "influence.cache.dir";

  private Locations() {}

  // ------------------------------------------------------------------ resolving

  /** {@code location} as a qualified path of its file system (see the class comment). */
  public static Path resolve(Configuration conf, String location) {
    if (location == null || location.isBlank()) {
      throw new IllegalArgumentException("an empty location was given. HINT: give a path or a URI such as "
          + "hdfs://namenode/data/corpus.parquet");
    }
    Path p;
    try {
      p = new Path(location);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("\"" + location + "\" is not a valid path or URI: " + e.getMessage(), e);
    }
    return fs(conf, p).makeQualified(p);
  }

  /** {@link #resolve(Configuration, String)} with the session's Hadoop configuration. */
  public static Path resolve(SparkSession spark, String location) {
    return resolve(spark.sparkContext().hadoopConfiguration(), location);
  }

  /** A local file or folder as a qualified {@code file:} path. */
  public static Path local(java.nio.file.Path p) {
    return new Path(p.toAbsolutePath().normalize().toUri());
  }

  /** True when {@code p} is on the local file system ({@code file:} scheme, or no scheme). */
  public static boolean isLocal(Path p) {
    String scheme = p.toUri().getScheme();
    return scheme == null || scheme.equals("file");
  }

  /** The local file of a {@code file:} path; throws for other file systems. */
  public static java.nio.file.Path toLocal(Path p) {
    if (!isLocal(p)) {
      throw new IllegalArgumentException(p + " is not a local path");
    }
    return java.nio.file.Path.of(p.toUri().getPath());
  }

  public static FileSystem fs(Configuration conf, Path p) {
    try {
      return p.getFileSystem(conf);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the file system of " + p + ": " + e.getMessage()
          + ". HINT: check the URI's scheme and host, and the Hadoop settings (spark.hadoop.*)", e);
    }
  }

  // ------------------------------------------------------------------ configuration

  /**
   * The Hadoop configuration to use where no session is passed: the driver's session's, else (inside a task) one
   * built once per JVM from the Spark conf's {@code spark.hadoop.*}, else one built from the {@code spark.hadoop.*}
   * system properties.
   */
  public static Configuration conf() {
    scala.Option<SparkSession> session = SparkSession.getActiveSession();
    if (session.isEmpty()) {
      session = SparkSession.getDefaultSession();
    }
    if (session.isDefined() && !session.get().sparkContext().isStopped()) {
      return session.get().sparkContext().hadoopConfiguration();
    }
    SparkEnv env = SparkEnv.get();
    if (env == null) {
      return fromSparkConf(new SparkConf());
    }
    TaskConf c = taskConf;
    if (c == null || c.env() != env) {
      c = new TaskConf(env, fromSparkConf(env.conf()));
      taskConf = c;
    }
    return c.conf();
  }

  /** The task-side configuration, built once per Spark environment (one per executor JVM). */
  private record TaskConf(SparkEnv env, Configuration conf) {}

  private static volatile TaskConf taskConf;

  /** A Hadoop configuration with the {@code spark.hadoop.*} entries of {@code spark}, as Spark builds one. */
  public static Configuration fromSparkConf(SparkConf spark) {
    Configuration conf = new Configuration();
    for (Tuple2<String, String> e : spark.getAll()) {
      if (e._1().startsWith("spark.hadoop.")) {
        conf.set(e._1().substring("spark.hadoop.".length()), e._2());
      }
    }
    return conf;
  }

  // ------------------------------------------------------------------ queries

  public static boolean exists(Configuration conf, Path p) {
    try {
      return fs(conf, p).exists(p);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot check " + p + ": " + e.getMessage(), e);
    }
  }

  /** The status of {@code p}, or null when it does not exist. */
  public static FileStatus status(Configuration conf, Path p) {
    try {
      return fs(conf, p).getFileStatus(p);
    } catch (FileNotFoundException e) {
      return null;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot check " + p + ": " + e.getMessage(), e);
    }
  }

  public static boolean isFile(Configuration conf, Path p) {
    FileStatus s = status(conf, p);
    return s != null && s.isFile();
  }

  public static boolean isDirectory(Configuration conf, Path p) {
    FileStatus s = status(conf, p);
    return s != null && s.isDirectory();
  }

  /** The entries of folder {@code dir} sorted by name, without checksum side files; empty when it does not exist. */
  public static List<FileStatus> list(Configuration conf, Path dir) {
    FileSystem fs = fs(conf, dir);
    try {
      if (!fs.exists(dir)) {
        return List.of();
      }
      List<FileStatus> out = new ArrayList<>(Arrays.asList(fs.listStatus(dir)));
      out.removeIf(s -> s.getPath().getName().endsWith(".crc") && s.getPath().getName().startsWith("."));
      out.sort(Comparator.comparing(s -> s.getPath().getName()));
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
    }
  }

  // ------------------------------------------------------------------ changes

  public static void mkdirs(Configuration conf, Path dir) {
    try {
      if (!fs(conf, dir).mkdirs(dir)) {
        throw new IOException("mkdirs returned false");
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create folder " + dir + ": " + e.getMessage(), e);
    }
  }

  /** Deletes {@code p} and everything under it; nothing happens when it does not exist. */
  public static void deleteRecursively(Configuration conf, Path p) {
    try {
      FileSystem fs = fs(conf, p);
      if (fs.exists(p) && !fs.delete(p, true)) {
        throw new IOException("delete returned false");
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete " + p + ": " + e.getMessage(), e);
    }
  }

  // ------------------------------------------------------------------ small files

  public static byte[] readBytes(Configuration conf, Path file) {
    try (InputStream in = raw(fs(conf, file)).open(file)) {
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
    }
  }

  /** A small UTF-8 file, whole. */
  public static String readString(Configuration conf, Path file) {
    return new String(readBytes(conf, file), StandardCharsets.UTF_8);
  }

  /** The lines of a small UTF-8 file. */
  public static List<String> readLines(Configuration conf, Path file) {
    return readString(conf, file).lines().toList();
  }

  /** Writes a small UTF-8 file atomically (see the class comment), creating missing parent folders. */
  public static void writeString(Configuration conf, Path file, String content) {
    writeBytes(conf, file, content.getBytes(StandardCharsets.UTF_8), null);
  }

  /**
   * Writes {@code bytes} into {@code file} atomically: a hidden temporary file in the same folder, renamed over
   * {@code file}. Missing parent folders are created; {@code permission}, when given, is set on the file.
   */
  public static void writeBytes(Configuration conf, Path file, byte[] bytes, FsPermission permission) {
    FileSystem fs = raw(fs(conf, file));
    Path tmp = new Path(file.getParent(), "." + file.getName() + "." + UUID.randomUUID() + ".tmp");
    try {
      fs.mkdirs(file.getParent());
      try (OutputStream out = fs.create(tmp, true)) {
        out.write(bytes);
      }
      if (permission != null) {
        setPermission(fs, tmp, permission);
      }
      replace(conf, fs, tmp, file);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
    } finally {
      try {
        fs.delete(tmp, false);
      } catch (IOException ignored) {
        // renamed already, or the write failed before creating it
      }
    }
  }

  private static void setPermission(FileSystem fs, Path p, FsPermission permission) throws IOException {
    if (fs instanceof RawLocalFileSystem) {   // without forking chmod when Hadoop's native library is missing
      try {
        java.nio.file.Files.setPosixFilePermissions(toLocal(p), java.nio.file.attribute.PosixFilePermissions
            .fromString(permission.toString()));
      } catch (UnsupportedOperationException notPosix) {
        // keep the file system's default permissions
      }
      return;
    }
    fs.setPermission(p, permission);
  }

  /** Writes without a temporary file (for files inside a folder that is itself published atomically). */
  public static void writeDirectly(Configuration conf, Path file, String content) {
    try (OutputStream out = raw(fs(conf, file)).create(file, true)) {
      out.write(content.getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
    }
  }

  /** Renames {@code tmp} over {@code target}, replacing it. */
  private static void replace(Configuration conf, FileSystem fs, Path tmp, Path target) throws IOException {
    if (fs instanceof RawLocalFileSystem) {
      if (fs.rename(tmp, target)) {   // rename(2): replaces the target atomically
        return;
      }
      throw new IOException("could not rename " + tmp + " to " + target);
    }
    try {
      FileContext.getFileContext(target.toUri(), conf).rename(tmp, target, Options.Rename.OVERWRITE);
    } catch (UnsupportedOperationException | org.apache.hadoop.fs.UnsupportedFileSystemException e) {
      // a file system without a FileContext binding: not atomic, but never leaves the target half-written
      fs.delete(target, false);
      if (!fs.rename(tmp, target)) {
        throw new IOException("could not rename " + tmp + " to " + target, e);
      }
    }
  }

  /** The raw file system under a checksummed local one (no {@code .crc} side files); others as they are. */
  static FileSystem raw(FileSystem fs) {
    return fs instanceof ChecksumFileSystem c ? c.getRawFileSystem() : fs;
  }

  // ------------------------------------------------------------------ local copies

  /**
   * Copies local file or folder {@code source} to {@code target} (which must not exist), for formats whose
   * writers need a local file (safetensors).
   */
  public static void upload(Configuration conf, java.nio.file.Path source, Path target) {
    FileSystem fs = raw(fs(conf, target));
    try {
      if (!fs.exists(target.getParent())) {
        fs.mkdirs(target.getParent());
      }
      fs.copyFromLocalFile(false, false, new Path(source.toAbsolutePath().toUri()), target);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot copy " + source + " to " + target + ": " + e.getMessage(), e);
    }
  }

  /** Copies file or folder {@code source} to the local {@code target} (which must not exist). */
  public static void download(Configuration conf, Path source, java.nio.file.Path target) {
    try {
      FileSystem fs = fs(conf, source);
      java.nio.file.Files.createDirectories(target.toAbsolutePath().getParent());
      // useRawLocalFileSystem: no .crc files in the local copy
      fs.copyToLocalFile(false, source, new Path(target.toAbsolutePath().toUri()), true);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot copy " + source + " to " + target + ": " + e.getMessage(), e);
    }
  }

  /** A new empty local temporary folder (the caller deletes it with {@link #deleteLocal}). */
  public static java.nio.file.Path localTemporary(String prefix) {
    try {
      return java.nio.file.Files.createTempDirectory(prefix);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create a local temporary folder: " + e.getMessage(), e);
    }
  }

  /** Deletes a local file or folder tree, quietly (clean-up of temporaries). */
  public static void deleteLocal(java.nio.file.Path p) {
    if (p == null || !java.nio.file.Files.exists(p)) {
      return;
    }
    try (var walk = java.nio.file.Files.walk(p)) {
      for (java.nio.file.Path q : walk.sorted(Comparator.reverseOrder()).toList()) {
        java.nio.file.Files.deleteIfExists(q);
      }
    } catch (IOException ignored) {
      // a temporary left behind is harmless
    }
  }
}
