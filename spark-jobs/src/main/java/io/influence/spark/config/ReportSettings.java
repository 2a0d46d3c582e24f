package io.influence.spark.config;

import com.typesafe.config.Config;
import java.util.List;

/**
 * The {@code influence.report} block.
 *
 * @param scores score folders shown, one column each beside the others under each query; empty = {@code score.folder}
 */
public record ReportSettings(List<String> scores) {

  public ReportSettings {
    scores = List.copyOf(scores);
  }

  static ReportSettings from(Config c) {
    return new ReportSettings(c.getStringList("report.scores"));
  }
}
