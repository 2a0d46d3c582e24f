package io.influence.spark.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import io.influence.spark.cli.InfluenceCommand;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Hints that are true: every setting a message of the product names ({@code influence.KEY} in a string literal of
 * any module's main code) exists in {@code reference.conf}, and every command a message tells the user to run
 * ({@code `influence CMD`}) is a subcommand of the command line.
 */
class HintsTest {

  private static final Pattern LITERAL = Pattern.compile("\"((?:[^\"\\\\]|\\\\.)*)\"");
  private static final Pattern SETTING = Pattern.compile("(?<![\\w.])influence\\.([a-z][a-z0-9-]*(?:\\.[a-z][a-z0-9-]*)*)");
  private static final Pattern COMMAND = Pattern.compile("`influence ([a-z-]+)");

  private static List<Path> productSources() throws IOException {
    Path root = Path.of("").toAbsolutePath().getParent();
    List<Path> out = new ArrayList<>();
    for (String module : List.of("checkpoints", "influence-core", "ekfac", "spark-jobs")) {
      try (Stream<Path> files = Files.walk(root.resolve(module).resolve("src/main/java"))) {
        files.filter(p -> p.toString().endsWith(".java")).forEach(out::add);
      }
    }
    return out;
  }

  @Test
  void everySettingNamedInAMessage_existsInTheDefaults() throws IOException {
    Config reference = Settings.reference();
    Set<String> blocks = reference.root().keySet();
    List<String> wrong = new ArrayList<>();
    int checked = 0;
    for (Path file : productSources()) {
      List<String> lines = Files.readAllLines(file);
      for (int n = 0; n < lines.size(); n++) {
        String line = lines.get(n).strip();
        if (line.startsWith("*") || line.startsWith("/") || line.startsWith("import ") || line.startsWith("package ")) {
          continue;
        }
        Matcher literal = LITERAL.matcher(line);
        while (literal.find()) {
          Matcher m = SETTING.matcher(literal.group(1));
          while (m.find()) {
            String key = m.group(1).replaceAll("\\.$", "");
            if (!blocks.contains(key.split("\\.")[0])) {
              continue;   // a package or class name, not a setting
            }
            checked++;
            if (!reference.hasPathOrNull(key)) {
              wrong.add(file.getFileName() + ":" + (n + 1) + " influence." + key);
            }
          }
        }
      }
    }
    assertTrue(checked > 30, "found only " + checked + " setting names in messages: the scan is broken");
    assertEquals(List.of(), wrong, "messages name settings that do not exist");
  }

  @Test
  void everyCommandNamedInAMessage_isASubcommand() throws IOException {
    Set<String> commands = new java.util.TreeSet<>(InfluenceCommand.commandLine().getSubcommands().keySet());
    commands.add("bench");   // bin/influence runs the bench module's main for it
    List<String> wrong = new ArrayList<>();
    for (Path file : productSources()) {
      List<String> lines = Files.readAllLines(file);
      for (int n = 0; n < lines.size(); n++) {
        String line = lines.get(n).strip();
        if (line.startsWith("*") || line.startsWith("/")) {
          continue;
        }
        Matcher m = COMMAND.matcher(line);
        while (m.find()) {
          if (!commands.contains(m.group(1))) {
            wrong.add(file.getFileName() + ":" + (n + 1) + " `influence " + m.group(1) + "`");
          }
        }
      }
    }
    assertEquals(List.of(), wrong, "messages name commands that do not exist (have " + commands + ")");
  }
}
