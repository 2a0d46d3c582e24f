package io.influence.bench;

import picocli.CommandLine;

/**
 * The bench module's main: {@code bin/influence bench [TASK...]} runs it with this module's jar on the classpath.
 * The product command line ({@code io.influence.spark.cli.InfluenceCommand}) does not know the bench, so the
 * application jar holds the product only.
 */
public final class BenchMain {

  private BenchMain() {}

  public static void main(String[] args) {
    int code = new CommandLine(new BenchCommand()).setCommandName("influence bench")
        .setCaseInsensitiveEnumValuesAllowed(true).execute(args);
    if (code != 0) {
      System.exit(code);
    }
  }
}
