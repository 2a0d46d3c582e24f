package io.influence.bench;

import java.nio.file.Path;
import java.util.Map;

/**
 * What every task gets: the short or full version, the seed its data comes from, a scratch folder of its
 * own, and sizes given on the command line as {@code -P key=value} (each task documents its keys and uses
 * its own defaults, smaller when {@code quick}).
 */
public record BenchOptions(boolean quick, long seed, Path workDir, Map<String, String> params) {

  public BenchOptions {
    params = Map.copyOf(params);
  }

  /** An integer size: the flag when given, else {@code quickDefault} or {@code fullDefault}. */
  public int intParam(String key, int quickDefault, int fullDefault) {
    String v = params.get(key);
    try {
      return v == null ? (quick ? quickDefault : fullDefault) : Integer.parseInt(v.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("bench parameter -P " + key + "=" + v + " is not an integer", e);
    }
  }

  /** A real-valued parameter: the flag when given, else {@code quickDefault} or {@code fullDefault}. */
  public double doubleParam(String key, double quickDefault, double fullDefault) {
    String v = params.get(key);
    try {
      return v == null ? (quick ? quickDefault : fullDefault) : Double.parseDouble(v.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("bench parameter -P " + key + "=" + v + " is not a number", e);
    }
  }

  /** A string parameter, or {@code dflt}. */
  public String param(String key, String dflt) {
    return params.getOrDefault(key, dflt);
  }

  /** The same options with a task's own sub-folder as scratch space. */
  public BenchOptions forTask(String task) {
    return new BenchOptions(quick, seed, workDir.resolve(task), params);
  }
}
