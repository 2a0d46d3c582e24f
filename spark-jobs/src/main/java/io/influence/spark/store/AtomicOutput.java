package io.influence.spark.store;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.ChecksumFileSystem;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.SparkContext;
import org.apache.spark.SparkExecutorInfo;
import org.apache.spark.scheduler.TaskSchedulerImpl;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Folders that become visible only when complete: a stage writes into
 * {@code <parent>/_tmp-<uuid>} (a name Spark and Hadoop input formats skip because it starts with
 * '_'), writes its marker file last, then renames the folder to its final name with one
 * {@link FileSystem#rename} (atomic on HDFS and on a local file system). A final folder is
 * complete when it holds the marker; leftovers of crashed runs are {@code _tmp-*} folders, which
 * {@link #cleanTemporaries} deletes. One writer per parent folder at a time.
 */
public final class AtomicOutput {

  static final String TMP_PREFIX = "_tmp-";

  /** How long a publish waits for tasks of retried stages to end (see {@link #publishAfterTasks}). */
  public static final Duration ZOMBIE_PATIENCE = Duration.ofSeconds(60);

  private static final Logger LOG = LoggerFactory.getLogger(AtomicOutput.class);

  private AtomicOutput() {}

  public static FileSystem fs(Path p, Configuration conf) {
    try {
      return p.getFileSystem(conf);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the file system of " + p + ": " + e.getMessage(), e);
    }
  }

  /** True when {@code folder} exists and holds {@code marker}. */
  public static boolean isComplete(FileSystem fs, Path folder, String marker) {
    try {
      return fs.exists(new Path(folder, marker));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot check " + folder + ": " + e.getMessage(), e);
    }
  }

  /** A fresh temporary folder name under {@code parent} (not created). */
  public static Path newTemporary(Path parent) {
    return new Path(parent, TMP_PREFIX + UUID.randomUUID());
  }

  /** Deletes every {@code _tmp-*} folder under {@code parent}; returns how many. */
  public static int cleanTemporaries(FileSystem fs, Path parent) {
    try {
      if (!fs.exists(parent)) {
        return 0;
      }
      int n = 0;
      for (FileStatus s : fs.listStatus(parent)) {
        if (s.getPath().getName().startsWith(TMP_PREFIX)) {
          fs.delete(s.getPath(), true);
          n++;
        }
      }
      return n;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot clean temporary folders under " + parent + ": " + e.getMessage(), e);
    }
  }

  /**
   * Writes a small UTF-8 file (overwriting). On a checksummed local file system the raw file system is
   * used, so no {@code .crc} side file is written and the JSON stays editable by hand.
   */
  public static void writeString(FileSystem fs, Path file, String content) {
    try (OutputStream out = raw(fs).create(file, true)) {
      out.write(content.getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
    }
  }

  /** Reads a small UTF-8 file. */
  public static String readString(FileSystem fs, Path file) {
    try (var in = raw(fs).open(file)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
    }
  }

  /**
   * Renames the complete temporary folder to {@code target}. Fails (and deletes the temporary) if
   * {@code target} appeared meanwhile, since Hadoop would otherwise move the folder inside it.
   */
  public static void publish(FileSystem fs, Path temporary, Path target) {
    try {
      if (fs.exists(target)) {
        fs.delete(temporary, true);
        throw new IllegalStateException(target + " appeared while this run was writing it. HINT: run one writer per"
            + " output folder at a time; the other run's result is kept.");
      }
      if (!fs.rename(temporary, target)) {
        throw new IllegalStateException("could not rename " + temporary + " to " + target
            + ". HINT: check permissions of the parent folder.");
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot rename " + temporary + " to " + target + ": " + e.getMessage(), e);
    }
  }

  /**
   * {@link #publish} for a folder that Spark tasks wrote, then the clean-up of retried stages: when an executor is
   * lost, the stage is resubmitted and the tasks of its earlier attempt ("zombies") keep running after the job has
   * returned; one that finishes later is refused the commit, but its writer has already re-created its attempt
   * folder under {@code temporary}'s old name. Waits (at most {@code patience}) until no task runs in the
   * application, then deletes that folder if it came back. Without a lost executor no task runs once the job has
   * returned, and this costs one look at the status tracker.
   */
  public static void publishAfterTasks(SparkContext sc, FileSystem fs, Path temporary, Path target, Duration patience) {
    publish(fs, temporary, target);
    long deadline = System.nanoTime() + patience.toNanos();
    int running = runningTasks(sc);
    if (running > 0) {
      LOG.info("{} task(s) still running after the job that wrote {}; waiting up to {} s for them before deleting "
          + "what they re-create", running, target, patience.toSeconds());
    }
    while (running > 0 && System.nanoTime() < deadline) {
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
      running = runningTasks(sc);
    }
    try {
      if (fs.exists(temporary)) {
        fs.delete(temporary, true);
      }
    } catch (IOException e) {
      LOG.warn("could not delete {} (re-created by a task of a retried stage): {}; the next write deletes it",
          temporary, e.getMessage());
    }
  }

  /**
   * Tasks running in the application now, on every executor (the driver's in local mode): the task scheduler's own
   * table of running task ids, which a task leaves when it ends or its executor is lost. The status tracker's counts
   * are only a fallback for another scheduler: they arrive through the listener bus, late under load, and stay wrong
   * when its queue drops events.
   */
  static int runningTasks(SparkContext sc) {
    if (sc.taskScheduler() instanceof TaskSchedulerImpl scheduler) {
      return scheduler.taskIdToTaskSetManager().size();
    }
    int n = 0;
    for (SparkExecutorInfo e : sc.statusTracker().getExecutorInfos()) {
      n += e.numRunningTasks();
    }
    return n;
  }

  private static FileSystem raw(FileSystem fs) {
    return fs instanceof ChecksumFileSystem c ? c.getRawFileSystem() : fs;
  }

  /** Deletes a folder if it exists (best effort on failure paths). */
  public static void deleteQuietly(FileSystem fs, Path folder) {
    try {
      fs.delete(folder, true);
    } catch (IOException ignored) {
      // a leftover _tmp-* folder is cleaned by the next run
    }
  }
}
