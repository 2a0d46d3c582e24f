package io.influence.spark.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SettingsTest {

  @TempDir Path dir;

  @Test
  void load_defaultsOnly_giveReferenceValues() {
    Config c = Settings.load(Optional.empty(), Map.of());
    assertEquals("local[*]", c.getString("spark.master"));
    assertEquals("fail", c.getString("input.bad-rows"));
    assertTrue(c.getIsNull("input.corpus"));
  }

  @Test
  void load_fileThenFlags_laterLayerWins() throws Exception {
    Path file = dir.resolve("my.conf");
    Files.writeString(file, "influence { input.corpus = \"/data/a.parquet\", output.dir = \"from-file\" }\n"
        + "influence.spark.conf { \"spark.executor.memory\" = \"4g\" }");
    Config c = Settings.load(Optional.of(file), Map.of("output.dir", "from-flag"));
    assertEquals("/data/a.parquet", c.getString("input.corpus"));
    assertEquals("from-flag", c.getString("output.dir"));
    assertEquals("4g", c.getConfig("spark.conf").getString("\"spark.executor.memory\""));
  }

  @Test
  void load_misspelledKey_failsNamingIt() throws Exception {
    Path file = dir.resolve("typo.conf");
    Files.writeString(file, "influence.input.corpsu = \"x\"");
    var e = assertThrows(IllegalArgumentException.class, () -> Settings.load(Optional.of(file), Map.of()));
    assertTrue(e.getMessage().contains("input.corpsu"), e.getMessage());
  }

  @Test
  void load_wrongType_failsNamingKey() {
    var e = assertThrows(IllegalArgumentException.class,
        () -> Settings.load(Optional.empty(), Map.of("output.overwrite", "sometimes")));
    assertTrue(e.getMessage().contains("output.overwrite"), e.getMessage());
  }

  @Test
  void load_invalidHocon_failsNamingFile() throws Exception {
    Path file = dir.resolve("broken.conf");
    Files.writeString(file, "influence { input { ");
    var e = assertThrows(IllegalArgumentException.class, () -> Settings.load(Optional.of(file), Map.of()));
    assertTrue(e.getMessage().contains("broken.conf"), e.getMessage());
  }

  @Test
  void requiredPath_missing_saysWhichStageNeedsIt() {
    Config c = Settings.load(Optional.empty(), Map.of());
    var e = assertThrows(IllegalArgumentException.class, () -> Settings.requiredPath(c, "input.corpus", "extract"));
    assertTrue(e.getMessage().contains("input.corpus") && e.getMessage().contains("extract"), e.getMessage());
  }

  @Test
  void claim_sameSettingsTwice_reportsReuse_differentSettingsRefused() throws Exception {
    Config a = Settings.load(Optional.empty(), Map.of("output.dir", "x"));
    Config b = Settings.load(Optional.empty(), Map.of("output.dir", "y"));
    Path out = dir.resolve("out");
    assertFalse(OutputGuard.claim(out, "extract", a, false));
    assertTrue(OutputGuard.claim(out, "extract", a, false));
    var e = assertThrows(IllegalStateException.class, () -> OutputGuard.claim(out, "extract", b, false));
    assertTrue(e.getMessage().contains("output.dir was \"x\", now \"y\""), e.getMessage());
    assertFalse(OutputGuard.claim(out, "score", b, false), "each stage has its own settings file");
    java.nio.file.Files.createDirectories(out.resolve("extract").resolve("old"));
    assertFalse(OutputGuard.claim(out, "extract", b, true));
    assertFalse(java.nio.file.Files.exists(out.resolve("extract")), "overwrite deletes the old stage output");
    assertTrue(OutputGuard.claim(out, "extract", b, false));
  }
}
