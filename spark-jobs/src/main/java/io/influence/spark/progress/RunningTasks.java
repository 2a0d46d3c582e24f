package io.influence.spark.progress;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorMetricsUpdate;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import scala.Tuple4;
import scala.collection.immutable.Seq;
import scala.jdk.javaapi.CollectionConverters;

/**
 * The count of one accumulator in tasks that are still running: every executor heartbeat
 * ({@code spark.executor.heartbeatInterval}, 10 s by default) carries each running task's accumulator values, which
 * the driver's accumulator only receives when the task ends. A task's value is dropped when it ends (the
 * accumulator then holds it); a heartbeat that arrives after the end is ignored.
 */
final class RunningTasks extends SparkListener {

  private final long accumulatorId;
  private final Map<Long, Long> byTask = new ConcurrentHashMap<>();
  private final Set<Long> ended = ConcurrentHashMap.newKeySet();

  RunningTasks(long accumulatorId) {
    this.accumulatorId = accumulatorId;
  }

  /** The sum over running tasks of their last reported values. */
  long sum() {
    long s = 0;
    for (long v : byTask.values()) {
      s += v;
    }
    return s;
  }

  @Override
  public void onExecutorMetricsUpdate(SparkListenerExecutorMetricsUpdate e) {
    for (Tuple4<Object, Object, Object, Seq<AccumulableInfo>> t : CollectionConverters.asJava(e.accumUpdates())) {
      long task = (Long) t._1();
      for (AccumulableInfo a : CollectionConverters.asJava(t._4())) {
        if (a.id() == accumulatorId && a.update().isDefined() && a.update().get() instanceof Number n
            && !ended.contains(task)) {
          byTask.put(task, n.longValue());
        }
      }
    }
  }

  @Override
  public void onTaskEnd(SparkListenerTaskEnd e) {
    ended.add(e.taskInfo().taskId());
    byTask.remove(e.taskInfo().taskId());
  }
}
