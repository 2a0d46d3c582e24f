package io.influence.spark.cli;

import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.Settings;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Option;

/** Options every stage shares: the settings layers and the common shortcuts. */
final class SettingsOptions {

  @Option(names = {"-c", "--config"}, description = "HOCON settings file, a path or URI (see conf/reference.conf)")
  String config;

  @Option(names = "-D", paramLabel = "KEY=VALUE", description = "override one setting, e.g. -D score.top-k=20")
  Map<String, String> overrides = new LinkedHashMap<>();

  @Option(names = "--corpus", description = "training corpus (sets input.corpus)")
  String corpus;

  @Option(names = "--run", description = "training run folder (sets input.run)")
  String run;

  @Option(names = "--queries", description = "queries file (sets input.queries)")
  String queries;

  @Option(names = {"-o", "--out"}, description = "output folder (sets output.dir)")
  String out;

  @Option(names = "--master", description = "Spark master (sets spark.master; spark-submit's wins)")
  String master;

  @Option(names = "--overwrite", description = "replace outputs written with different settings")
  boolean overwrite;

  InfluenceSettings load() {
    Map<String, String> all = new LinkedHashMap<>(overrides);
    put(all, "input.corpus", corpus);
    put(all, "input.run", run);
    put(all, "input.queries", queries);
    put(all, "output.dir", out);
    put(all, "spark.master", master);
    if (overwrite) {
      all.put("output.overwrite", "true");
    }
    return Settings.load(config, all);
  }

  private static void put(Map<String, String> m, String key, String value) {
    if (value != null) {
      m.put(key, value);
    }
  }
}
