package io.influence.bench;

import io.influence.spark.config.BlasThreads;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The machine's load average ({@code /proc/loadavg}), noted next to speed figures: other work skews them. */
final class MachineLoad {

  private MachineLoad() {}

  /** "load 1/5/15 min: a b c on N cores", or a note that it cannot be read on this system. */
  static String now() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
      return "load average (1/5/15 min) " + f[0] + " " + f[1] + " " + f[2] + " on " + BlasThreads.cores() + " cores";
    } catch (IOException | RuntimeException e) {
      return "load average unavailable (" + e.getMessage() + ")";
    }
  }
}
