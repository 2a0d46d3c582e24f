package io.influence.spark.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.checkpoints.TrainingRuns;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.Settings;
import io.influence.spark.extract.ExtractJob;
import io.influence.spark.testing.LocalSpark;
import io.influence.spark.testing.TinyRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * No stale answer after a retrain: when a checkpoint's weights change (and with them its sha256 in the run's
 * manifest), re-running the pipeline into the same folder extracts and fits that checkpoint again (the other one
 * is reused), recomputes self-influence and the scores, and gives exactly what a fresh run into a new folder gives.
 */
class StaleOutputsTest {

  @TempDir Path dir;

  private InfluenceSettings settings(TinyRun tiny, Path queries, Path out) {
    return Settings.load(Optional.empty(), Map.of("input.corpus", tiny.corpus().toString(),
        "input.run", dir.resolve("run").toString(), "input.queries", queries.toString(), "output.dir", out.toString(),
        "score.top-k", "5", "extract.projection.k-in", "6", "extract.projection.k-out", "5"));
  }

  private static Map<String, Double> scores(List<Row> rows) {
    Map<String, Double> out = new TreeMap<>();
    for (Row r : rows) {
      out.put(r.getAs("query_id") + "/" + r.getAs("direction") + "/" + r.getAs("train_id"), r.getAs("score"));
    }
    return out;
  }

  private static Map<String, Double> selfInfluence(List<Row> rows) {
    Map<String, Double> out = new TreeMap<>();
    rows.forEach(r -> out.put(r.getString(0), r.getDouble(1)));
    return out;
  }

  @Test
  void changedCheckpoint_isExtractedAndFittedAgain_andScoresEqualAFreshRun() throws Exception {
    TinyRun tiny = TinyRun.create(dir);
    Path queries = dir.resolve("queries.jsonl");
    Files.writeString(queries, "{\"id\": \"q1\", \"prompt\": \"the red\", \"completion\": \" cat sleeps.\"}\n");
    SparkSession spark = LocalSpark.get();
    InfluenceSettings s = settings(tiny, queries, dir.resolve("out"));
    InfluenceSettings ekfac = s.with("score.method", "ekfac").with("score.folder", "scores-ekfac");
    Stages.extract(spark, s);
    Stages.fitEkfac(spark, s);
    Map<String, Double> selfBefore = selfInfluence(Stages.selfInfluence(spark, s).collectAsList());
    Map<String, Double> before = scores(Stages.score(spark, s).collectAsList());
    Stages.score(spark, ekfac).collectAsList();

    // a retrain changes step 6: its weights become step 3's, and the manifest records the new hash
    RunCheckpoint c3 = tiny.run().checkpoints().get(0);
    RunCheckpoint c6 = tiny.run().checkpoints().get(1);
    Files.copy(c3.dir().resolve("model.safetensors"), c6.dir().resolve("model.safetensors"),
        StandardCopyOption.REPLACE_EXISTING);
    String newSha = TrainingRuns.sha256(c6.dir());
    assertNotEquals(c6.sha256(), newSha);
    Path manifest = dir.resolve("run").resolve(TrainingRuns.MANIFEST);
    Files.writeString(manifest, Files.readString(manifest).replace(c6.sha256(), newSha));

    ExtractJob.Result extracted = Stages.extract(spark, s);
    assertEquals(List.of("step-6"), extracted.written(), "only the changed checkpoint is extracted again");
    assertEquals(List.of("step-3"), extracted.skipped());
    var fitted = Stages.fitEkfac(spark, s);
    assertEquals(List.of("step-6"), fitted.written(), "only the changed checkpoint's factors are fitted again");
    List<Row> after = Stages.score(spark, s).collectAsList();
    for (Row r : after) {
      List<String> shas = r.getList(r.fieldIndex("checkpoint_sha256"));
      assertTrue(shas.contains(newSha) && !shas.contains(c6.sha256()), "provenance shows the new hash: " + shas);
    }
    Map<String, Double> selfAfter = selfInfluence(Stages.selfInfluence(spark, s).collectAsList());
    List<Row> ekfacAfter = Stages.score(spark, ekfac).collectAsList();

    // a fresh run of the changed model into a new folder is the truth
    InfluenceSettings fresh = settings(tiny, queries, dir.resolve("fresh"));
    Stages.extract(spark, fresh);
    Stages.fitEkfac(spark, fresh);
    assertEquals(selfInfluence(Stages.selfInfluence(spark, fresh).collectAsList()), selfAfter);
    assertEquals(scores(Stages.score(spark, fresh).collectAsList()), scores(after));
    assertEquals(scores(Stages.score(spark, fresh.with("score.method", "ekfac").with("score.folder", "scores-ekfac"))
        .collectAsList()), scores(ekfacAfter));
    assertNotEquals(before, scores(after), "the old scores were not reused");
    assertNotEquals(selfBefore, selfAfter, "the old self-influence was not reused");
  }

  @Test
  void changedCorpusRow_isExtractedAgain_andScoringAnotherCorpusIsRefused() throws Exception {
    TinyRun tiny = TinyRun.create(dir);
    Path queries = dir.resolve("queries.jsonl");
    Files.writeString(queries, "{\"id\": \"q1\", \"prompt\": \"the red\", \"completion\": \" cat sleeps.\"}\n");
    SparkSession spark = LocalSpark.get();
    InfluenceSettings s = settings(tiny, queries, dir.resolve("out")).with("score.top-k", 40);   // every row ranked
    Stages.extract(spark, s);
    Map<String, Double> before = scores(Stages.score(spark, s).collectAsList());
    String edited = "q1/top/doc-7";

    // one row's text is replaced in place (same id)
    String corpus = Files.readString(tiny.corpus());
    String old = tiny.texts().get(7);
    Files.writeString(tiny.corpus(), corpus.replace("\"" + old + "\"", "\"the red cat sleeps.\""));
    assertNotEquals(corpus, Files.readString(tiny.corpus()));

    // scoring the old store against the edited corpus is an error, not text joined to the wrong rows
    var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> Stages.score(spark, s));
    assertTrue(e.getMessage().contains("extracted from another corpus") && e.getMessage().contains("HINT"),
        e.getMessage());

    ExtractJob.Result extracted = Stages.extract(spark, s);
    assertEquals(List.of("step-3", "step-6"), extracted.written(), "every checkpoint is extracted again");
    Map<String, Double> after = scores(Stages.score(spark, s).collectAsList());
    InfluenceSettings fresh = settings(tiny, queries, dir.resolve("fresh")).with("score.top-k", 40);
    Stages.extract(spark, fresh);
    assertEquals(scores(Stages.score(spark, fresh).collectAsList()), after);
    assertNotEquals(before.get(edited), after.get(edited), "the edited row's score is new, not reused");
  }
}
