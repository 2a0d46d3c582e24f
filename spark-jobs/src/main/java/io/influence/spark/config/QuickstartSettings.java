package io.influence.spark.config;

import com.typesafe.config.Config;
import java.util.List;

/**
 * The {@code influence.quickstart} block.
 *
 * @param fortunes how many fortunes to use; 0 = every one of at most {@code maxChars} characters
 * @param maxChars longer fortunes are left out
 * @param methods  scored one after the other: the first into {@code scores/}, the others into {@code scores-<method>/}
 */
public record QuickstartSettings(int fortunes, int maxChars, List<Method> methods) {

  public QuickstartSettings {
    methods = List.copyOf(methods);
    if (methods.isEmpty()) {
      throw new IllegalArgumentException("influence.quickstart.methods is empty. HINT: e.g. [\"tracin\", \"ekfac\"]");
    }
    if (fortunes < 0 || maxChars < 1) {
      throw new IllegalArgumentException("influence.quickstart.fortunes must be >= 0 and max-chars >= 1, got "
          + fortunes + " and " + maxChars);
    }
  }

  static QuickstartSettings from(Config c) {
    Config q = c.getConfig("quickstart");
    return new QuickstartSettings(q.getInt("fortunes"), q.getInt("max-chars"), q.getStringList("methods").stream()
        .map(m -> Choices.parse(Method.class, "quickstart.methods", m)).toList());
  }
}
