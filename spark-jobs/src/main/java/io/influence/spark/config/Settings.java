package io.influence.spark.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import io.influence.spark.io.Locations;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import org.apache.hadoop.conf.Configuration;

/**
 * Loads the engine's settings in three layers, later ones winning: the defaults in
 * {@code reference.conf} (shipped in the jar from {@code conf/}), a user HOCON file, and
 * command-line overrides ({@code key=value} with keys relative to {@code influence}).
 *
 * <p>Every key a user sets must exist in the defaults (free-form maps such as
 * {@code spark.conf} excepted), and must have the default's type, so that a typo fails on the
 * driver, naming the key, before any work starts. {@link InfluenceSettings} then checks every value.
 */
public final class Settings {

  /** Sub-trees whose keys are free-form (passed through to another system). */
  private static final List<String> FREE_FORM = List.of("spark.conf");

  private Settings() {}

  /** The typed settings of the three layers, every block checked. */
  public static InfluenceSettings load(Optional<Path> userFile, Map<String, String> overrides) {
    return load(userFile.map(Path::toString).orElse(null), overrides);
  }

  /**
   * The typed settings, with the user file at {@code userFile} (a local path or a URI on any Hadoop file system,
   * e.g. {@code hdfs://nn/conf/job.conf}; see {@link Locations#resolve}), or none when null. A local file is parsed
   * in place (its {@code include}s are relative to it); a remote one is read whole.
   */
  public static InfluenceSettings load(String userFile, Map<String, String> overrides) {
    return InfluenceSettings.from(resolve(userFile, overrides));
  }

  /** The resolved {@code influence} settings tree, keys and types checked against the defaults. */
  static Config resolve(String userFile, Map<String, String> overrides) {
    Config reference = reference();
    Config user = ConfigFactory.empty();
    if (userFile != null) {
      Configuration conf = Locations.conf();
      org.apache.hadoop.fs.Path file = Locations.resolve(conf, userFile);
      if (!Locations.isFile(conf, file)) {
        throw new IllegalArgumentException("settings file " + userFile + " does not exist");
      }
      try {
        ConfigParseOptions options = ConfigParseOptions.defaults().setAllowMissing(false);
        Config parsed = Locations.isLocal(file) ? ConfigFactory.parseFile(Locations.toLocal(file).toFile(), options)
            : ConfigFactory.parseString(Locations.readString(conf, file), options.setOriginDescription(userFile));
        user = parsed.hasPath("influence") ? parsed.getConfig("influence") : parsed;
      } catch (ConfigException e) {
        throw new IllegalArgumentException("settings file " + userFile + " is not valid HOCON: " + e.getMessage(), e);
      }
    }
    Config flags = ConfigFactory.parseMap(flagValues(overrides, reference), "command line");
    Config merged = plainDampingIsAbsolute(flags.withFallback(user).withFallback(reference).resolve());
    checkKnown(merged, reference, Optional.ofNullable(userFile));
    return merged;
  }

  /**
   * {@code ihvp.damping = 0.01}, a plain number (what the setting was before it became a block), keeps its meaning:
   * an absolute λ, as {@code { mode = "absolute", value = 0.01 }}. Anything else that is not a block is refused
   * naming the key.
   */
  private static Config plainDampingIsAbsolute(Config merged) {
    String key = "ihvp.damping";
    if (!merged.hasPath(key) || merged.getValue(key).valueType() == ConfigValueType.OBJECT) {
      return merged;
    }
    ConfigValue v = merged.getValue(key);
    double lambda;
    try {
      lambda = Double.parseDouble(String.valueOf(v.unwrapped()).trim());
    } catch (NumberFormatException e) {
      return merged;
    }
    return merged.withValue(key, com.typesafe.config.ConfigValueFactory.fromMap(
        Map.of("mode", "absolute", "value", lambda), v.origin().description()));
  }

  /** The defaults ({@code reference.conf} in the jar), under {@code influence}; parsed once. */
  static Config reference() {
    return Reference.CONFIG;
  }

  /** Parsed once per JVM (a Config is immutable): every load and every fingerprint compares against it. */
  private static final class Reference {
    static final Config CONFIG = ConfigFactory.parseResources(Settings.class.getClassLoader(), "reference.conf",
        ConfigParseOptions.defaults().setAllowMissing(false)).getConfig("influence");
  }

  /**
   * Command-line values: a string each, except for list settings, whose value is read as a HOCON list
   * ({@code -D 'extract.layers=["h.1.mlp.c_fc"]'}).
   */
  private static Map<String, Object> flagValues(Map<String, String> overrides, Config reference) {
    Map<String, Object> out = new java.util.LinkedHashMap<>();
    for (Map.Entry<String, String> e : overrides.entrySet()) {
      String key = e.getKey();
      if (reference.hasPath(key) && reference.getValue(key).valueType() == ConfigValueType.LIST) {
        try {
          Object v = ConfigFactory.parseString("v = " + e.getValue()).getValue("v").unwrapped();
          if (v instanceof List<?>) {
            out.put(key, v);
            continue;
          }
        } catch (ConfigException bad) {
          // refused below with the syntax that works
        }
        throw new IllegalArgumentException("setting influence." + key + " is a list, got " + e.getValue()
            + " (from the command line). HINT: -D '" + key + "=[\"first\", \"second\"]' (quotes around the whole "
            + "flag keep the shell from eating the brackets and quotes); [] for an empty list");
      }
      out.put(key, e.getValue());
    }
    return out;
  }

  private static void checkKnown(Config merged, Config reference, Optional<String> userFile) {
    List<String> unknown = new ArrayList<>();
    for (Map.Entry<String, ConfigValue> e : merged.entrySet()) {
      String key = e.getKey();
      if (FREE_FORM.stream().anyMatch(prefix -> key.startsWith(prefix + "."))) {
        continue;
      }
      if (!reference.hasPathOrNull(key) && !hasNullAncestor(reference, key)) {
        unknown.add(key);
      }
    }
    if (!unknown.isEmpty()) {
      throw new IllegalArgumentException("unknown setting(s) " + new TreeSet<>(unknown)
          + userFile.map(f -> " (from " + f + " or the command line)").orElse(" (from the command line)")
          + ". HINT: see conf/reference.conf for every setting and its meaning");
    }
    // in key order: the first key a message names is the same on every run (entrySet is a hash set)
    List<Map.Entry<String, ConfigValue>> entries = new ArrayList<>(reference.entrySet());
    entries.sort(Map.Entry.comparingByKey());
    for (Map.Entry<String, ConfigValue> e : entries) {
      String key = e.getKey();
      requireBlocksAbove(merged, key);
      if (merged.getIsNull(key)) {
        continue;
      }
      try {
        switch (e.getValue().valueType()) {
          case BOOLEAN -> merged.getBoolean(key);
          case NUMBER -> merged.getNumber(key);
          case STRING -> merged.getString(key);
          case LIST -> merged.getList(key);
          default -> { }
        }
      } catch (ConfigException.WrongType bad) {
        throw new IllegalArgumentException("setting influence." + key + " must be a "
            + e.getValue().valueType().name().toLowerCase(java.util.Locale.ROOT) + ", got "
            + merged.getValue(key).render() + " (" + merged.getValue(key).origin().description() + ")", bad);
      }
    }
  }

  /** Fails naming the setting when a block above {@code key} (e.g. {@code ekfac.damping}) was set to a plain value. */
  private static void requireBlocksAbove(Config merged, String key) {
    List<String> parts = com.typesafe.config.ConfigUtil.splitPath(key);
    for (int i = 1; i < parts.size(); i++) {
      String block = com.typesafe.config.ConfigUtil.joinPath(parts.subList(0, i));
      if (merged.hasPath(block) && merged.getValue(block).valueType() != com.typesafe.config.ConfigValueType.OBJECT) {
        throw new IllegalArgumentException("setting influence." + block + " must be a block (it holds influence." + key
            + "), got " + merged.getValue(block).render() + " (" + merged.getValue(block).origin().description()
            + "). HINT: see conf/reference.conf for its keys, e.g. influence." + block + " { ... }");
      }
    }
  }

  private static boolean hasNullAncestor(Config reference, String key) {
    int dot = key.lastIndexOf('.');
    while (dot > 0) {
      String parent = key.substring(0, dot);
      if (reference.hasPathOrNull(parent) && reference.getIsNull(parent)) {
        return true;
      }
      dot = parent.lastIndexOf('.');
    }
    return false;
  }
}
