package io.influence.spark.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigValueType;
import io.influence.ekfac.Damping;

/**
 * The one shape of every damping setting ({@code influence.ekfac.damping}, {@code influence.ihvp.damping}):
 *
 * <pre>
 *   damping {
 *     mode = "relative"   # or "absolute"
 *     value = 0.1         # relative: the factor of the curvature's mean eigenvalue; absolute: λ itself
 *   }
 * </pre>
 *
 * read into a typed {@link Damping}. Every error names the key.
 */
final class DampingSettings {

  /** How {@code <block>.damping.mode} is spelled. */
  enum Mode { RELATIVE, ABSOLUTE }

  private DampingSettings() {}

  /** Reads {@code <block>.damping} of the {@code influence} settings. */
  static Damping read(Config influence, String block) {
    String key = block + ".damping";
    if (!influence.hasPath(key) || influence.getValue(key).valueType() != ConfigValueType.OBJECT) {
      String got = influence.hasPath(key) ? influence.getValue(key).render() : "nothing";
      throw new IllegalArgumentException("influence." + key + " must be a block { mode = \"relative\" or \"absolute\","
          + " value = a number >= 0 }, got " + got + ". HINT: for an absolute λ of 0.01 write influence." + key
          + " { mode = \"absolute\", value = 0.01 }");
    }
    Mode mode;
    double value;
    try {
      mode = Choices.parse(Mode.class, key + ".mode", influence.getString(key + ".mode"));
      value = influence.getDouble(key + ".value");
    } catch (ConfigException e) {
      throw new IllegalArgumentException("bad influence." + key + " setting: " + e.getMessage()
          + ". HINT: see the " + block + " block of conf/reference.conf", e);
    }
    if (!(value >= 0) || !Double.isFinite(value)) {
      throw new IllegalArgumentException("influence." + key + ".value must be finite and >= 0, got " + value);
    }
    return mode == Mode.RELATIVE ? Damping.relativeToMean(value) : Damping.absolute(value);
  }
}
