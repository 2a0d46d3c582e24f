package io.influence.spark.quickstart;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.LlamaConfig;
import io.influence.checkpoints.ModelConfigs;
import io.influence.spark.config.Settings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The planted-facts quickstart end to end on a Llama trained by the engine's trainer (RoPE, RMSNorm,
 * SwiGLU, grouped-query attention): TracIn and EK-FAC each put a planted sequence first for every
 * query, as on GPT-2. A reduced variant of the default quickstart (200 fortunes, width 32, 4 heads
 * over 2 key/value heads, 240 steps, 2 checkpoints, 16 × 16 projections); the hit rate is
 * recomputed here from the scores each method wrote.
 */
class LlamaQuickstartTest {

  @TempDir
  Path dir;

  @Test
  void plantedFacts_llama_tracinAndEkfacPutAPlantedSequenceFirstForEveryQuery() throws Exception {
    Map<String, String> o = new LinkedHashMap<>();
    o.put("output.dir", dir.resolve("qs").toString());
    o.put("train.family", "llama");
    o.put("quickstart.fortunes", "200");
    o.put("quickstart.max-chars", "120");
    o.put("train.width", "32");
    o.put("train.heads", "4");
    o.put("train.kv-heads", "2");
    o.put("train.steps", "240");
    o.put("train.checkpoints", "2");
    o.put("extract.projection.k-in", "16");
    o.put("extract.projection.k-out", "16");
    o.put("spark.master", "local[2]");
    List<String> printed = new ArrayList<>();
    Quickstart.Result r = Quickstart.run(Settings.load(Optional.empty(), o), printed::add);

    Path checkpoint = r.out().resolve("run/checkpoint-240");
    LlamaConfig config = (LlamaConfig) ModelConfigs.read(checkpoint.resolve("config.json"));
    assertEquals("llama", config.modelType());
    assertEquals(2, config.numKeyValueHeads());
    assertTrue(Files.exists(r.out().resolve("report/index.html")));

    assertEquals(List.of("tracin", "ekfac"), List.copyOf(r.methods().keySet()));
    for (Quickstart.MethodResult m : r.methods().values()) {
      int first = 0;
      for (Map.Entry<String, List<String>> e : m.top3().entrySet()) {
        String fact = e.getKey().substring(1, 3);  // qNN-... states fact NN, planted as planted-NN-x
        first += e.getValue().get(0).startsWith("planted-" + fact + "-") ? 1 : 0;
      }
      assertEquals(r.planted().size(), m.top3().size(), m.method() + ": one top 3 per query");
      assertEquals(m.top3().size(), first, m.method() + " put a planted sequence first for only " + first + " of "
          + m.top3().size() + " queries: " + m.top3());
    }
  }
}
