package io.influence.spark.progress;

import java.io.Serializable;
import org.apache.spark.util.LongAccumulator;

/**
 * What a task holds to report its work: {@link #add} after each batch. The count reaches the driver's
 * {@link Progress} two ways: through a Spark accumulator (merged when the task finishes, and sent with every
 * executor heartbeat while it runs, see {@link RunningTasks}), and, when the task runs in the driver's JVM (local
 * mode), at once through the live {@link Progress} of the same key.
 */
public final class ProgressCounter implements Serializable {

  private static final long serialVersionUID = 1L;

  private final String key;
  private final LongAccumulator done;

  ProgressCounter(String key, LongAccumulator done) {
    this.key = key;
    this.done = done;
  }

  /** Counts {@code n} more units (rows) finished. */
  public void add(long n) {
    done.add(n);
    Progress live = Progress.live(key);
    if (live != null) {
      live.addLocal(n);
    }
  }

  /** The accumulator behind the count. */
  LongAccumulator accumulator() {
    return done;
  }
}
