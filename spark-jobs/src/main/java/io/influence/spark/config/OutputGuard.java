package io.influence.spark.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValue;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Saves the settings a stage ran with next to its output ({@code _settings.conf}) and refuses to
 * reuse an output folder that was written with different settings, unless told to overwrite —
 * so a restarted stage never mixes results of two configurations.
 */
public final class OutputGuard {

  /** The settings file of {@code stage} inside an output folder. */
  public static String file(String stage) {
    return "_settings." + stage + ".conf";
  }

  private OutputGuard() {}

  /**
   * Claims {@code dir/stage} for a stage run with {@code settings}, saved as
   * {@code dir/_settings.<stage>.conf}. Returns true when it was already written with the same
   * settings (the stage may then skip finished work). With {@code overwrite}, an output written
   * with other settings is deleted first.
   */
  public static boolean claim(Path dir, String stage, Config settings, boolean overwrite) {
    Path file = dir.resolve(file(stage));
    try {
      Files.createDirectories(dir);
      if (Files.exists(file)) {
        Config previous = ConfigFactory.parseFile(file.toFile());
        List<String> differences = differences(previous, settings);
        if (differences.isEmpty()) {
          return true;
        }
        if (!overwrite) {
          throw new IllegalStateException(dir.resolve(stage) + " was written with different settings: " + differences
              + ". HINT: choose another output folder, or pass --overwrite to replace it");
        }
        deleteRecursively(dir.resolve(stage));
      }
      Path tmp = Files.createTempFile(dir, file(stage), ".tmp");
      Files.writeString(tmp, settings.root().render(ConfigRenderOptions.concise().setFormatted(true).setJson(false)));
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      return false;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
  }

  private static void deleteRecursively(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (var walk = Files.walk(p)) {
      for (Path q : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(q);
      }
    }
  }

  static List<String> differences(Config before, Config now) {
    Map<String, String> a = flatten(before);
    Map<String, String> b = flatten(now);
    List<String> out = new ArrayList<>();
    TreeMap<String, Boolean> keys = new TreeMap<>();
    a.keySet().forEach(k -> keys.put(k, true));
    b.keySet().forEach(k -> keys.put(k, true));
    for (String k : keys.keySet()) {
      String x = a.get(k);
      String y = b.get(k);
      if (x == null ? y != null : !x.equals(y)) {
        out.add(k + " was " + x + ", now " + y);
      }
    }
    return out;
  }

  private static Map<String, String> flatten(Config c) {
    Map<String, String> out = new TreeMap<>();
    for (Map.Entry<String, ConfigValue> e : c.entrySet()) {
      out.put(e.getKey(), e.getValue().render(ConfigRenderOptions.concise()));
    }
    return out;
  }
}
