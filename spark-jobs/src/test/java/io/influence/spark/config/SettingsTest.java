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
    InfluenceSettings c = Settings.load(Optional.empty(), Map.of());
    assertEquals("local[*]", c.spark().master());
    assertEquals(BadRows.FAIL, c.input().badRows());
    assertTrue(c.input().corpus().isEmpty());
  }

  @Test
  void load_fileThenFlags_laterLayerWins() throws Exception {
    Path file = dir.resolve("my.conf");
    Files.writeString(file, "influence { input.corpus = \"/data/a.parquet\", output.dir = \"from-file\" }\n"
        + "influence.spark.conf { \"spark.executor.memory\" = \"4g\" }");
    InfluenceSettings c = Settings.load(Optional.of(file), Map.of("output.dir", "from-flag"));
    assertEquals("/data/a.parquet", c.input().corpus().orElseThrow());
    assertEquals("from-flag", c.output().dir());
    assertEquals("4g", c.spark().conf().get("spark.executor.memory"));
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
  void load_optimizerPreconditioning_defaultNone_adamParsed_unknownWordNamesKeyAndWords() {
    assertEquals(io.influence.spark.store.OptimizerPreconditioning.NONE,
        Settings.load(Optional.empty(), Map.of()).extract().optimizerPreconditioning());
    assertEquals(io.influence.spark.store.OptimizerPreconditioning.ADAM, Settings.load(Optional.empty(),
        Map.of("extract.optimizer-preconditioning", "adam")).extract().optimizerPreconditioning());
    var e = assertThrows(IllegalArgumentException.class, () -> Settings.load(Optional.empty(),
        Map.of("extract.optimizer-preconditioning", "adamw")));
    assertTrue(e.getMessage().contains("extract.optimizer-preconditioning") && e.getMessage().contains("\"adam\""),
        e.getMessage());
  }

  @Test
  void load_fisherSamplesWithTheEmpiricalFisher_failsNamingBothKeys() {
    var e = assertThrows(IllegalArgumentException.class,
        () -> Settings.load(Optional.empty(), Map.of("ekfac.fisher-samples", "4")));
    assertTrue(e.getMessage().contains("ekfac.fisher-samples") && e.getMessage().contains("ekfac.fisher = true"),
        e.getMessage());
    var zero = assertThrows(IllegalArgumentException.class,
        () -> Settings.load(Optional.empty(), Map.of("ekfac.fisher", "true", "ekfac.fisher-samples", "0")));
    assertTrue(zero.getMessage().contains("ekfac.fisher-samples must be >= 1"), zero.getMessage());
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
    InfluenceSettings c = Settings.load(Optional.empty(), Map.of());
    var e = assertThrows(IllegalArgumentException.class, () -> c.input().corpus("extract"));
    assertTrue(e.getMessage().contains("input.corpus") && e.getMessage().contains("extract"), e.getMessage());
  }

  @Test
  void claim_sameSettingsTwice_reportsReuse_differentSettingsRefused() throws Exception {
    Config a = com.typesafe.config.ConfigFactory.parseMap(Map.of("output.dir", "x"));
    Config b = com.typesafe.config.ConfigFactory.parseMap(Map.of("output.dir", "y"));
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

  @Test
  void load_listFromCommandLine_isReadAsHoconList() {
    InfluenceSettings c = Settings.load(Optional.empty(), Map.of("extract.layers", "[\"h.1.mlp.c_fc\", h.0.attn.c_attn]",
        "report.scores", "[]"));
    assertEquals(java.util.List.of("h.1.mlp.c_fc", "h.0.attn.c_attn"), c.extract().layers());
    assertEquals(java.util.List.of(), c.report().scores());
  }

  @Test
  void load_listWithoutBrackets_isRefusedWithTheSyntaxThatWorks() {
    var e = assertThrows(IllegalArgumentException.class,
        () -> Settings.load(Optional.empty(), Map.of("extract.layers", "h.1.mlp.c_fc")));
    assertTrue(e.getMessage().contains("influence.extract.layers") && e.getMessage().contains("-D 'extract.layers=["),
        e.getMessage());
  }

  @Test
  void section_sameMeaningWrittenDifferently_hasNoDifferences() {
    Config defaults = Settings.load(Optional.empty(), Map.of("input.corpus", "data/c.jsonl")).section("input", "extract");
    Config flags = Settings.load(Optional.empty(), Map.of("input.corpus", Path.of("data/c.jsonl").toAbsolutePath()
        .toString(), "extract.projection.k-in", "16", "extract.projection.enabled", "true", "extract.batch-size", "16"))
        .section("input", "extract");
    assertEquals(java.util.List.of(), OutputGuard.differences(defaults, flags));
    Config other = Settings.load(Optional.empty(), Map.of("input.corpus", "data/c.jsonl",
        "extract.projection.k-in", "17")).section("input", "extract");
    assertEquals(1, OutputGuard.differences(defaults, other).size(), OutputGuard.differences(defaults, other).toString());
  }

  @Test
  void section_sameRelativePathFromAnotherDirectory_isAnotherInput() {
    // a relative path is saved resolved against the directory the command ran in, so the same words typed in
    // another directory name another file and differ from what was saved
    Config here = Settings.load(Optional.empty(), Map.of("input.corpus", "c.jsonl")).section("input");
    assertEquals(Path.of("c.jsonl").toAbsolutePath().toString(), here.getString("input.corpus"));
    Config savedElsewhere = here.withValue("input.corpus",
        com.typesafe.config.ConfigValueFactory.fromAnyRef("/some/other/dir/c.jsonl"));
    assertEquals(1, OutputGuard.differences(savedElsewhere, here).size());
    Config uri = Settings.load(Optional.empty(), Map.of("input.corpus", "hdfs://nn:8020/data/c.jsonl")).section("input");
    assertTrue(uri.getString("input.corpus").equals("hdfs://nn:8020/data/c.jsonl"), uri.toString());
  }
}
