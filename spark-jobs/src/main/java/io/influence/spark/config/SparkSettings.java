package io.influence.spark.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValue;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The {@code influence.spark} block.
 *
 * @param master      the master when the JVM was not launched by spark-submit
 * @param appName     the application name
 * @param blasThreads BLAS threads per task: {@code "auto"} (cores / concurrent tasks) or a positive integer
 * @param conf        passed to SparkConf as is (keys get the {@code spark.} prefix when they lack it)
 */
public record SparkSettings(String master, String appName, String blasThreads, Map<String, String> conf) {

  public SparkSettings {
    conf = Map.copyOf(conf);
    if (!blasThreads.equals("auto") && !blasThreads.matches("[1-9][0-9]{0,5}")) {
      throw new IllegalArgumentException("influence.spark.blas-threads must be \"auto\" or a positive integer, got "
          + blasThreads);
    }
  }

  static SparkSettings from(Config c) {
    Config s = c.getConfig("spark");
    Map<String, String> conf = new LinkedHashMap<>();
    for (Map.Entry<String, ConfigValue> e : s.getConfig("conf").entrySet()) {
      String key = e.getKey().replace("\"", "");
      conf.put(key.startsWith("spark.") ? key : "spark." + key, String.valueOf(e.getValue().unwrapped()));
    }
    return new SparkSettings(s.getString("master"), s.getString("app-name"), s.getString("blas-threads"), conf);
  }
}
