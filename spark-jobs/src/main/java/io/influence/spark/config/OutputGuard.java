package io.influence.spark.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValue;
import io.influence.spark.io.Locations;
import io.influence.spark.progress.ProgressLog;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * Saves the settings a stage ran with next to its output ({@code _settings.conf}) and refuses to
 * reuse an output folder that was written with different settings, unless told to overwrite —
 * so a restarted stage never mixes results of two configurations. The output folder may be on any Hadoop file
 * system ({@link Locations}); the settings file is replaced atomically.
 */
public final class OutputGuard {

  /**
   * Keys under this block of a stage's fingerprint name what its output was computed from (e.g. the content hash
   * of each checkpoint it read), not settings: when only they differ the output is stale and is computed again.
   */
  public static final String INPUTS = "inputs";

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(OutputGuard.class);

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
    Configuration conf = Locations.conf();
    Path file = new Path(dir, file(stage));
    Locations.mkdirs(conf, dir);
    if (Locations.exists(conf, file)) {
      Config previous = ConfigFactory.parseString(Locations.readString(conf, file));
      List<String> differences = differences(previous, settings);
      if (differences.isEmpty()) {
        return true;
      }
      if (differences.stream().allMatch(d -> d.startsWith(INPUTS + "."))) {
        // same settings, but what the output was computed from changed (a re-extracted checkpoint): recompute it
        LOG.warn("{} was computed from other inputs ({}); computing it again", new Path(dir, stage), differences);
        Locations.deleteRecursively(conf, new Path(dir, stage));
      } else if (!overwrite) {
        throw new IllegalStateException(new Path(dir, stage) + " was written with different settings: " + differences
            + ". HINT: choose another output folder, or pass --overwrite to replace it");
      } else {
        Locations.deleteRecursively(conf, new Path(dir, stage));
      }
    }
    Locations.writeString(conf, file, settings.root().render(ConfigRenderOptions.concise().setFormatted(true)
        .setJson(false)));
    return false;
  }

  /**
   * Runs {@code work} with {@code dir/stage} claimed ({@link #claim}). When {@code work} fails before anything of
   * {@code dir/stage} exists, the claim is withdrawn: the settings file this call wrote is deleted, and so is
   * {@code dir} when this call created it and it is empty (but for the {@link ProgressLog}); the corrected retry then finds the folder as it was.
   */
  public static <T> T whileClaimed(Path dir, String stage, Config settings, boolean overwrite, Supplier<T> work) {
    Configuration conf = Locations.conf();
    Path file = new Path(dir, file(stage));
    boolean hadDir = Locations.exists(conf, dir);
    boolean hadFile = hadDir && Locations.exists(conf, file);
    claim(dir, stage, settings, overwrite);
    try {
      return work.get();
    } catch (RuntimeException | Error e) {
      try {
        if (!hadFile && !Locations.exists(conf, new Path(dir, stage))) {
          Locations.deleteRecursively(conf, file);
          if (!hadDir && Locations.list(conf, dir).stream()
              .allMatch(f -> f.getPath().getName().equals(ProgressLog.FOLDER))) {   // empty but for the progress log
            Locations.deleteRecursively(conf, dir);
          }
        }
      } catch (RuntimeException cleanup) {
        e.addSuppressed(cleanup);
      }
      throw e;
    }
  }

  /** {@link #claim(Path, String, Config, boolean)} of a local output folder. */
  public static boolean claim(java.nio.file.Path dir, String stage, Config settings, boolean overwrite) {
    return claim(Locations.local(dir), stage, settings, overwrite);
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
