package io.influence.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;

/**
 * The live heap of this JVM while a job runs: a daemon thread forces a full collection every
 * {@code periodMillis} and reads the heap used right after it, which is what the JVM really holds
 * (the plain peak of "heap used" mostly measures how lazily the collector ran). Also keeps the plain
 * peak for comparison. In local mode the executor's tasks run in this JVM, so the figure is driver
 * and executor together.
 */
final class HeapSampler implements AutoCloseable {

  private final MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
  private final Thread thread;
  private final long periodMillis;
  private volatile boolean running = true;
  private volatile long maxLive;
  private volatile int samples;

  private HeapSampler(long periodMillis) {
    this.periodMillis = periodMillis;
    System.gc();
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      pool.resetPeakUsage();
    }
    sample();
    this.thread = new Thread(this::loop, "bench-heap-sampler");
    thread.setDaemon(true);
    thread.start();
  }

  static HeapSampler start(long periodMillis) {
    return new HeapSampler(periodMillis);
  }

  private void loop() {
    while (running) {
      try {
        Thread.sleep(periodMillis);
      } catch (InterruptedException e) {
        return;
      }
      if (running) {
        sample();
      }
    }
  }

  private synchronized void sample() {
    System.gc();
    maxLive = Math.max(maxLive, memory.getHeapMemoryUsage().getUsed());
    samples++;
  }

  /** Largest heap used right after a forced collection (one at the start, then one per period), MiB. */
  double maxLiveMiB() {
    return maxLive / (1024.0 * 1024.0);
  }

  int samples() {
    return samples;
  }

  /** Peak of "heap used" over all heap pools since the start (not after collection), MiB. */
  static double peakUsedMiB() {
    long sum = 0;
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == MemoryType.HEAP) {
        sum += pool.getPeakUsage().getUsed();
      }
    }
    return sum / (1024.0 * 1024.0);
  }

  /** Heap the JVM may grow to ({@code -Xmx}), MiB. */
  static double maxHeapMiB() {
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getMax() / (1024.0 * 1024.0);
  }

  @Override
  public void close() {
    running = false;
    thread.interrupt();
    try {
      thread.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
