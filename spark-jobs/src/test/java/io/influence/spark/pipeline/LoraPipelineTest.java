package io.influence.spark.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.SafetensorsWriter;
import io.influence.core.model.BatchGradients;
import io.influence.core.model.CausalLm;
import io.influence.core.model.GradientRequest;
import io.influence.core.model.LinearLayer;
import io.influence.core.model.TokenBatch;
import io.influence.core.tokenizer.Tokenizer;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.Settings;
import io.influence.spark.store.GradientStore;
import io.influence.spark.store.StoreMetadata;
import io.influence.spark.testing.LocalSpark;
import io.influence.spark.train.TrainJob;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A LoRA fine-tuning run through the pipeline: a Llama base trained by {@code train}, a Trainer folder of two PEFT
 * adapter checkpoints on it (written here in PEFT's format: {@code adapter_config.json} naming the base,
 * {@code adapter_model.safetensors} with {@code lora_A [r, in]} and {@code lora_B [out, r]}), then extract, fit-ekfac
 * and scoring with TracIn and EK-FAC. The store holds the adapter's factors only, each row's stored gradient equals
 * the adapter model's own per-example gradient of that row, and both methods rank the whole corpus.
 */
class LoraPipelineTest {

  private static final List<String> TARGETS = List.of("q_proj", "v_proj", "down_proj");
  private static final int R = 2;

  @TempDir
  Path dir;

  @Test
  void adapterRun_extractFitScore_storeHoldsAdapterGradientsOnly_equalToTheModels() throws Exception {
    Path corpus = dir.resolve("corpus.jsonl");
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < 10; i++) {
      text.append("{\"id\": \"s").append(i).append("\", \"text\": \"the river ").append(i % 3 == 0 ? "Ombrel" : "Tamsk")
          .append(" runs past mill ").append(i).append("\"}\n");
    }
    Files.writeString(corpus, text);
    Path queries = dir.resolve("queries.jsonl");
    Files.writeString(queries, "{\"id\": \"q\", \"prompt\": \"the river\", \"completion\": \" Ombrel\"}\n");
    Map<String, String> o = new LinkedHashMap<>();
    o.put("train.family", "llama");
    o.put("train.vocab-size", "270");
    o.put("train.context", "24");
    o.put("train.width", "16");
    o.put("train.layers", "1");
    o.put("train.heads", "2");
    o.put("train.kv-heads", "1");
    o.put("train.steps", "3");
    o.put("train.batch-size", "4");
    o.put("train.checkpoints", "1");
    InfluenceSettings trainSettings = Settings.load(Optional.empty(), o);
    TrainJob.run(corpus, dir.resolve("base-run"), trainSettings.train(), trainSettings.input().longText(), line -> { });
    Path base = dir.resolve("base-run/checkpoint-3");

    Path adapters = dir.resolve("lora-run");
    for (int step = 1; step <= 2; step++) {
      writeAdapter(base, adapters.resolve("checkpoint-" + step), step);
    }

    o.put("input.corpus", corpus.toString());
    o.put("input.queries", queries.toString());
    o.put("input.run", adapters.toString());
    o.put("input.constant-learning-rate", "0.01");
    o.put("extract.projection.enabled", "false");
    o.put("score.top-k", "10");
    o.put("output.dir", dir.resolve("out").toString());
    InfluenceSettings s = Settings.load(Optional.empty(), o);
    SparkSession spark = LocalSpark.get();
    Stages.extract(spark, s);

    org.apache.hadoop.fs.Path store = new org.apache.hadoop.fs.Path(dir.resolve("out").resolve(Stages.GRADIENTS).toUri());
    assertEquals(List.of("step-1", "step-2"), GradientStore.checkpoints(store));
    Path adapter2 = adapters.resolve("checkpoint-2");
    CausalLm model = CausalLm.load(adapter2, DataType.FLOAT);
    StoreMetadata meta = GradientStore.metadata(spark, store, "step-2");
    List<String> layers = meta.layers().stream().map(StoreMetadata.Layer::name).toList();
    assertEquals(model.linearLayers(), layers, "every adapter factor, in model order");
    assertEquals(2 * TARGETS.size(), layers.size());
    assertTrue(layers.stream().allMatch(l -> l.endsWith(".lora_A") || l.endsWith(".lora_B")), layers.toString());
    assertEquals(model.parameterViews().keySet().size(), layers.size(), "the base is frozen: adapter parameters only");

    // every stored row equals the adapter model's per-example gradient of that row's tokens
    Tokenizer tokenizer = Tokenizer.fromTokenizerJson(adapter2.resolve("tokenizer.json"));
    Map<String, String> texts = new LinkedHashMap<>();
    for (String line : Files.readAllLines(corpus)) {
      String id = line.replaceAll(".*\"id\": \"([^\"]+)\".*", "$1");
      texts.put(id, line.replaceAll(".*\"text\": \"([^\"]+)\".*", "$1"));
    }
    List<Row> rows = GradientStore.read(spark, store, "step-2").collectAsList();
    assertEquals(10, rows.size());
    double worst = 0;
    for (Row row : rows) {
      int[] tokens = tokenizer.encodeDocument(texts.get(row.getString(row.fieldIndex("id"))));
      BatchGradients g = model.gradients(TokenBatch.of(new int[][] {tokens}), GradientRequest.perExampleFull());
      float[][] values = io.influence.spark.store.StoredRow.layers(row, meta);
      for (int li = 0; li < values.length; li++) {
        StoreMetadata.Layer l = meta.layers().get(li);
        float[] stored = values[li];
        INDArray want = g.fullPerExample().get(0).get(l.name());
        LinearLayer ll = model.linear(l.name());
        assertEquals(ll.size(), stored.length, l.name());
        double[] w = want.dup('c').castTo(DataType.DOUBLE).data().asDouble();
        double scale = 1e-30;
        for (double x : w) {
          scale = Math.max(scale, Math.abs(x));
        }
        for (int i = 0; i < w.length; i++) {
          worst = Math.max(worst, Math.abs(stored[i] - w[i]) / scale);
        }
      }
    }
    assertTrue(worst < 1e-5, "stored adapter gradients differ from the model's by " + worst);

    Stages.fitEkfac(spark, s);
    for (String method : List.of("tracin", "ekfac")) {
      InfluenceSettings m = s.with("score.method", method).with("score.folder", "scores-" + method);
      List<Row> scored = Stages.score(spark, m).collectAsList();
      long top = scored.stream().filter(r -> r.getString(r.fieldIndex("direction")).equals("top")).count();
      assertEquals(10, top, method + " ranks the whole corpus");
      assertFalse(scored.stream().anyMatch(r -> !Double.isFinite(r.getDouble(r.fieldIndex("score")))), method);
    }
  }

  /** A PEFT LoRA adapter on {@code base} (seeded; lora_B non-zero so both factors have gradients) plus its tokenizer. */
  private static void writeAdapter(Path base, Path out, long seed) throws Exception {
    Files.createDirectories(out);
    Files.writeString(out.resolve("adapter_config.json"), "{\"peft_type\": \"LORA\", \"task_type\": \"CAUSAL_LM\", \"r\": " + R
        + ", \"lora_alpha\": 4, \"lora_dropout\": 0.0, \"target_modules\": [\"q_proj\", \"v_proj\", \"down_proj\"],"
        + " \"bias\": \"none\", \"fan_in_fan_out\": false, \"use_rslora\": false, \"base_model_name_or_path\": \""
        + base.toAbsolutePath() + "\"}");
    CausalLm model = CausalLm.load(base, DataType.FLOAT);
    SplittableRandom random = new SplittableRandom(seed);
    SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt");
    List<String> modules = new ArrayList<>();
    for (String layer : model.linearLayers()) {
      if (TARGETS.stream().anyMatch(layer::endsWith)) {
        modules.add(layer);
      }
    }
    for (String layer : modules) {
      LinearLayer l = model.linear(layer);
      w.put("base_model.model." + layer + ".lora_A.weight", new long[] {R, l.dIn()}, gaussian(random, R * l.dIn()));
      w.put("base_model.model." + layer + ".lora_B.weight", new long[] {l.dOut(), R}, gaussian(random, l.dOut() * R));
    }
    w.write(out.resolve("adapter_model.safetensors"));
    Files.copy(base.resolve("tokenizer.json"), out.resolve("tokenizer.json"));
  }

  private static float[] gaussian(SplittableRandom random, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (0.1 * Math.sqrt(-2 * Math.log(1 - random.nextDouble())) * Math.cos(2 * Math.PI * random.nextDouble()));
    }
    return v;
  }
}
