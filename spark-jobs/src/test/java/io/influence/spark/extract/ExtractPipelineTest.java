package io.influence.spark.extract;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.checkpoints.TrainingRun;
import io.influence.checkpoints.OptimizerState;
import io.influence.core.grad.AdamScaling;
import io.influence.core.grad.GradientExtractor;
import io.influence.core.model.Gpt2Model;
import io.influence.core.score.LayerLayout;
import io.influence.core.tokenizer.Tokenizer;
import io.influence.core.tracin.CheckpointGradients;
import io.influence.core.tracin.CheckpointSource;
import io.influence.core.tracin.ExampleGradient;
import io.influence.core.tracin.SelfInfluence;
import io.influence.core.tracin.TracInCp;
import io.influence.spark.config.BadRows;
import io.influence.spark.config.LongText;
import io.influence.spark.config.ExtractSettings.Projection;
import io.influence.spark.io.Corpus;
import io.influence.spark.selfinf.SelfInfluenceJob;
import io.influence.spark.selfinf.SelfInfluenceSpec;
import io.influence.spark.store.GradientStore;
import io.influence.spark.testing.LocalSpark;
import io.influence.spark.store.OptimizerPreconditioning;
import io.influence.spark.testing.TinyRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The extract and self-influence stages on {@code local[2]} against the one-machine core: the
 * stored gradients equal {@link GradientExtractor}'s for every row and checkpoint, for any
 * partition count, full and projected; self-influence equals {@link TracInCp}.
 */
class ExtractPipelineTest {

  private static final float TOLERANCE = 2e-5f;

  @TempDir static Path dir;
  private static TrainingRun run;
  private static Tokenizer tokenizer;
  private static List<String> ids;
  private static List<String> texts;

  private final SparkSession spark = LocalSpark.get();

  @BeforeAll
  static void trainTinyModel() throws Exception {
    TinyRun tiny = TinyRun.create(dir);
    run = tiny.run();
    tokenizer = tiny.tokenizer();
    ids = tiny.ids();
    texts = tiny.texts();
  }

  private Dataset<Row> corpus(int partitions, List<String> extraLines) throws Exception {
    Path file = dir.resolve("corpus-" + partitions + "-" + extraLines.size() + ".jsonl");
    StringBuilder lines = new StringBuilder();
    for (int i = 0; i < ids.size(); i++) {
      lines.append("{\"id\": \"").append(ids.get(i)).append("\", \"text\": \"").append(texts.get(i)).append("\"}\n");
    }
    extraLines.forEach(l -> lines.append(l).append('\n'));
    Files.writeString(file, lines);
    return Corpus.read(spark, file).repartition(partitions);
  }

  private static Map<String, float[]> stored(SparkSession spark, Path store, String checkpoint, String layer) {
    Map<String, float[]> out = new HashMap<>();
    io.influence.spark.store.StoreMetadata meta = GradientStore.metadata(spark, store, checkpoint);
    int l = meta.layerNames().indexOf(layer);
    for (Row r : GradientStore.read(spark, store, checkpoint).collectAsList()) {
      out.put(r.getString(0), io.influence.spark.store.StoredRow.layers(r, meta)[l]);
    }
    return out;
  }

  private static List<ExampleGradient> reference(RunCheckpoint c, Projection projection) throws Exception {
    Gpt2Model model = Gpt2Model.load(c.dir(), DataType.FLOAT);
    var projections = projection == null ? Map.<String, io.influence.core.model.KroneckerProjection>of()
        : model.projections(model.linearLayers(), projection.kIn(), projection.kOut(), projection.seed());
    return new GradientExtractor(model, projections, 5).extract(ids, texts.stream().map(tokenizer::encode).toList(),
        null);
  }

  private void assertStoreEqualsReference(Path store, Projection projection) throws Exception {
    for (RunCheckpoint c : run.checkpoints()) {
      List<ExampleGradient> expected = reference(c, projection);
      Gpt2Model model = Gpt2Model.load(c.dir(), DataType.FLOAT);
      for (String layer : model.linearLayers()) {
        Map<String, float[]> got = stored(spark, store, ExtractJob.checkpointName(c), layer);
        assertEquals(ids.size(), got.size(), "rows of " + layer);
        for (ExampleGradient e : expected) {
          float[] want = e.layers().get(layer).dup('c').data().asFloat();
          float[] have = got.get(e.id());
          float scale = 0;
          for (float x : want) {
            scale = Math.max(scale, Math.abs(x));
          }
          for (int i = 0; i < want.length; i++) {
            assertEquals(want[i], have[i], TOLERANCE * Math.max(scale, 1e-6f),
                e.id() + " " + layer + "[" + i + "] at " + c.step());
          }
        }
      }
    }
  }

  @Test
  void extract_fullGradients_equalOneMachineResult_forAnyPartitionCount() throws Exception {
    for (int partitions : new int[] {1, 3}) {
      Path store = dir.resolve("store-full-" + partitions);
      var result = ExtractJob.run(spark, new ExtractSpec(corpus(partitions, List.of()), run, store, null, null, 4,
          BadRows.FAIL, LongText.WINDOWS));
      assertEquals(2, result.written().size());
      assertStoreEqualsReference(store, null);
    }
  }

  @Test
  void extract_projected_equalsOneMachineProjection_andRerunIsNoOp() throws Exception {
    Path store = dir.resolve("store-projected");
    Projection projection = new Projection(4, 6, 17);
    ExtractSpec spec = new ExtractSpec(corpus(2, List.of()), run, store, projection, null, 8,
        BadRows.FAIL, LongText.WINDOWS);
    assertEquals(2, ExtractJob.run(spark, spec).written().size());
    assertStoreEqualsReference(store, projection);
    var again = ExtractJob.run(spark, spec);
    assertTrue(again.written().isEmpty(), "re-running a finished stage must write nothing");
    assertEquals(2, again.skipped().size());
  }

  /**
   * extract.optimizer-preconditioning = adam on local[2]: the stored rows equal the one-machine extractor's with
   * Adam's scaling, the metadata records the choice and the optimizer file's sha256, a re-run reuses the store, and
   * extracting into it without the scaling is refused rather than reused (sameGradientSpace compares the choice).
   */
  @Test
  void extract_adamPreconditioned_equalsScaledReference_andIsNeverMixedWithRaw() throws Exception {
    Projection projection = new Projection(4, 6, 17);
    Path store = dir.resolve("store-adam");
    ExtractSpec adam = new ExtractSpec(corpus(2, List.of()), run, store, projection, null, 8, BadRows.FAIL,
        LongText.WINDOWS).withPreconditioning(OptimizerPreconditioning.ADAM);
    assertEquals(2, ExtractJob.run(spark, adam).written().size());
    for (RunCheckpoint c : run.checkpoints()) {
      var meta = GradientStore.metadata(spark, store, ExtractJob.checkpointName(c));
      assertEquals(OptimizerPreconditioning.ADAM, meta.optimizerPreconditioning());
      assertEquals(OptimizerState.read(c.dir()).sha256(), meta.optimizerSha256());
      assertTrue(meta.projectionDescription().startsWith("adam-preconditioned"), meta.projectionDescription());
      Gpt2Model model = Gpt2Model.load(c.dir(), DataType.FLOAT);
      List<ExampleGradient> expected = new GradientExtractor(model, model.projections(model.linearLayers(),
          projection.kIn(), projection.kOut(), projection.seed()), 5,
          AdamScaling.of(model, model.linearLayers(), OptimizerState.read(c.dir())))
          .extract(ids, texts.stream().map(tokenizer::encode).toList(), null);
      for (String layer : model.linearLayers()) {
        Map<String, float[]> got = stored(spark, store, ExtractJob.checkpointName(c), layer);
        for (ExampleGradient e : expected) {
          float[] want = e.layers().get(layer).dup('c').data().asFloat();
          float scale = 0;
          for (float x : want) {
            scale = Math.max(scale, Math.abs(x));
          }
          for (int i = 0; i < want.length; i++) {
            assertEquals(want[i], got.get(e.id())[i], TOLERANCE * scale, e.id() + " " + layer + "[" + i + "]");
          }
        }
      }
    }
    // the score stage's query gradients in this store's space are scaled the same way (both sides)
    RunCheckpoint last = run.checkpoints().get(run.checkpoints().size() - 1);
    var lastMeta = GradientStore.metadata(spark, store, ExtractJob.checkpointName(last));
    var query = new io.influence.spark.io.Queries.Query("q", texts.get(0).substring(0, 6), texts.get(0).substring(6));
    ExampleGradient q = io.influence.spark.method.QueryGradients.projected(List.of(query), last, lastMeta).get(0);
    Gpt2Model lastModel = Gpt2Model.load(last.dir(), DataType.FLOAT);
    var encoded = io.influence.spark.method.QueryGradients.encode(List.of(query), last, lastModel).get(0);
    ExampleGradient qWant = new GradientExtractor(lastModel, lastModel.projections(lastModel.linearLayers(),
        projection.kIn(), projection.kOut(), projection.seed()), 1,
        AdamScaling.of(lastModel, lastModel.linearLayers(), OptimizerState.read(last.dir())))
        .extract(List.of("q"), List.of(encoded.tokens()), java.util.Arrays.asList(encoded.lossMask())).get(0);
    for (String layer : lastModel.linearLayers()) {
      float[] want = qWant.layers().get(layer).dup('c').data().asFloat();
      float scale = 0;
      for (float x : want) {
        scale = Math.max(scale, Math.abs(x));
      }
      org.junit.jupiter.api.Assertions.assertArrayEquals(want, q.layers().get(layer).dup('c').data().asFloat(),
          TOLERANCE * scale, "query gradient of " + layer);
    }
    assertTrue(ExtractJob.run(spark, adam).written().isEmpty(), "the same choice and state reuse the store");
    var raw = assertThrows(IllegalStateException.class, () -> ExtractJob.run(spark,
        adam.withPreconditioning(OptimizerPreconditioning.NONE)));
    assertTrue(raw.getMessage().contains("\"optimizerPreconditioning\":\"ADAM\"")
        && raw.getMessage().contains("\"optimizerPreconditioning\":\"NONE\"") && raw.getMessage().contains("HINT"),
        raw.getMessage());
  }

  @Test
  void extract_badRows_failNamingThem_orAreSkippedAndCounted() throws Exception {
    List<String> bad = List.of("{\"id\": \"empty\", \"text\": \"\"}",
        "{\"id\": \"huge-id\", \"input_ids\": [1, 2, 99999]}",
        "{\"id\": \"too-long\", \"input_ids\": [" + "1, ".repeat(40) + "1]}");
    Path store = dir.resolve("store-bad");
    var failing = new ExtractSpec(corpus(2, bad), run, store, null, null, 8, BadRows.FAIL, LongText.ERROR);
    var e = assertThrows(IllegalArgumentException.class, () -> ExtractJob.run(spark, failing));
    assertTrue(e.getMessage().contains("3 corpus row(s)") && e.getMessage().contains("empty (empty)")
        && e.getMessage().contains("huge-id (token id 99999") && e.getMessage().contains("too-long (41 tokens"),
        e.getMessage());
    assertTrue(GradientStore.checkpoints(store).isEmpty(), "a failed extract must leave nothing visible");

    var skipping = new ExtractSpec(corpus(2, bad), run, store, null, null, 8, BadRows.SKIP, LongText.ERROR);
    var result = ExtractJob.run(spark, skipping);
    assertEquals(3, result.badRows().count());
    assertEquals(ids.size(), GradientStore.read(spark, store, ExtractJob.checkpointName(run.checkpoints().get(0)))
        .count());
  }

  @Test
  void selfInfluence_afterExtract_equalsTracInOnOneMachine() throws Exception {
    Path store = dir.resolve("store-self");
    ExtractJob.run(spark, new ExtractSpec(corpus(3, List.of()), run, store, null, null, 4,
        BadRows.FAIL, LongText.WINDOWS));
    List<String> names = run.checkpoints().stream().map(ExtractJob::checkpointName).toList();
    List<Double> rates = run.checkpoints().stream().map(RunCheckpoint::learningRate).toList();
    Dataset<Row> rows = SelfInfluenceJob.run(spark, SelfInfluenceSpec.tracIn(store, names, rates,
        dir.resolve("self-out")));
    Map<String, Double> got = new HashMap<>();
    rows.collectAsList().forEach(r -> got.put(r.getString(0), r.getDouble(1)));

    List<CheckpointGradients> perCheckpoint = new ArrayList<>();
    LayerLayout layout = null;
    for (RunCheckpoint c : run.checkpoints()) {
      List<ExampleGradient> g = reference(c, null);
      if (layout == null) {
        layout = LayerLayout.ofExample(Gpt2Model.load(c.dir(), DataType.FLOAT).linearLayers(), g.get(0).layers());
      }
      perCheckpoint.add(new CheckpointGradients(c.toString(), c.learningRate(), List.of(), g));
    }
    SelfInfluence expected = TracInCp.selfInfluence(layout, CheckpointSource.of(perCheckpoint));
    assertFalse(got.isEmpty());
    for (int i = 0; i < expected.ids().size(); i++) {
      double want = expected.total()[i];
      assertEquals(want, got.get(expected.ids().get(i)), 1e-4 * Math.abs(want), expected.ids().get(i));
    }
    assertTrue(Files.exists(dir.resolve("self-out").resolve(SelfInfluenceJob.SUMMARY_FILE)));
  }
}
