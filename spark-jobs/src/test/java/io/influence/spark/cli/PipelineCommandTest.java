package io.influence.spark.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.grad.GradientExtractor;
import io.influence.core.model.Gpt2Model;
import io.influence.core.score.LayerLayout;
import io.influence.core.tracin.CheckpointGradients;
import io.influence.core.tracin.CheckpointSource;
import io.influence.core.tracin.ExampleGradient;
import io.influence.core.tracin.TracInCp;
import io.influence.core.tracin.TracInScores;
import io.influence.spark.method.QueryGradients;
import io.influence.spark.pipeline.Stages;
import io.influence.spark.score.ScoreJob;
import io.influence.spark.testing.LocalSpark;
import io.influence.spark.testing.TinyRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import picocli.CommandLine;

/**
 * {@code influence run} end to end on {@code local[2]}: its TracIn top-k and bottom-k per query
 * equal a brute-force ranking of {@link TracInCp} scores computed on one machine from the same
 * projected gradients, each checkpoint's gradient divided by its norm over every layer first (TracIn's
 * default, score.gradients = auto, is unit-normalised), and a second run reuses every finished output.
 */
class PipelineCommandTest {

  @TempDir Path dir;

  @Test
  void run_wholePipeline_matchesOneMachineTracIn_andRerunReusesOutputs() throws Exception {
    TinyRun tiny = TinyRun.create(dir);
    Path queries = dir.resolve("queries.jsonl");
    Files.writeString(queries, "{\"id\": \"q1\", \"prompt\": \"the red\", \"completion\": \" cat sleeps.\"}\n"
        + "{\"id\": \"q2\", \"prompt\": \"a blue bird\", \"completion\": \" sings quietly.\"}\n");
    Path out = dir.resolve("out");
    String[] args = {"run", "--corpus", tiny.corpus().toString(), "--run", dir.resolve("run").toString(),
        "--queries", queries.toString(), "--out", out.toString(), "--master", "local[2]",
        "-D", "score.top-k=5", "-D", "extract.projection.k-in=6", "-D", "extract.projection.k-out=5"};
    assertEquals(0, new CommandLine(new InfluenceCommand()).execute(args));
    List<Row> rows = LocalSpark.get().read().parquet(out.resolve(Stages.SCORES).resolve(ScoreJob.SCORES_FOLDER)
        .toString()).collectAsList();

    // One machine: the same projected gradients, TracIn by TracInCp, ranked by brute force.
    List<CheckpointGradients> perCheckpoint = new ArrayList<>();
    LayerLayout layout = null;
    List<io.influence.spark.io.Queries.Query> qs = List.of(
        new io.influence.spark.io.Queries.Query("q1", "the red", " cat sleeps."),
        new io.influence.spark.io.Queries.Query("q2", "a blue bird", " sings quietly."));
    for (RunCheckpoint c : tiny.run().checkpoints()) {
      Gpt2Model m = Gpt2Model.load(c.dir(), DataType.FLOAT);
      var projections = m.projections(m.linearLayers(), 6, 5, 42);
      List<ExampleGradient> train = new GradientExtractor(m, projections, 8).extract(tiny.ids(),
          tiny.texts().stream().map(tiny.tokenizer()::encode).toList(), null);
      var store = io.influence.spark.store.GradientStore.metadata(LocalSpark.get(), out.resolve(Stages.GRADIENTS),
          "step-" + c.step());
      List<ExampleGradient> query = unit(QueryGradients.projected(qs, c, store));
      train = unit(train);
      if (layout == null) {
        layout = LayerLayout.ofExample(m.linearLayers(), train.get(0).layers());
      }
      perCheckpoint.add(new CheckpointGradients("step-" + c.step(), c.learningRate(), query, train));
    }
    TracInScores expected = TracInCp.scores(layout, CheckpointSource.of(perCheckpoint));
    for (int q = 0; q < 2; q++) {
      String qid = expected.queryIds().get(q);
      double[] s = expected.total()[q];
      List<Integer> order = IntStream.range(0, s.length).boxed()
          .sorted(Comparator.comparingDouble((Integer i) -> -s[i]).thenComparing(i -> expected.trainIds().get(i)))
          .toList();
      for (int rank = 1; rank <= 5; rank++) {
        int i = order.get(rank - 1);
        Row got = find(rows, qid, "top", rank);
        assertEquals(expected.trainIds().get(i), got.getAs("train_id"), qid + " top rank " + rank);
        assertEquals(s[i], (double) got.getAs("score"), 1e-4 * Math.abs(s[i]) + 1e-9, qid + " score at rank " + rank);
        assertEquals(tiny.texts().get(tiny.ids().indexOf(expected.trainIds().get(i))), got.getAs("text"));
        int j = order.get(order.size() - rank);
        assertEquals(expected.trainIds().get(j), find(rows, qid, "bottom", rank).getAs("train_id"),
            qid + " bottom rank " + rank);
      }
    }
    assertTrue(Files.exists(out.resolve(Stages.SELF_INFLUENCE).resolve("summary.jsonl")));

    // A second run finds every stage finished and recomputes nothing.
    long before = Files.getLastModifiedTime(out.resolve(Stages.SCORES).resolve(ScoreJob.SUMMARY_FILE)).toMillis();
    assertEquals(0, new CommandLine(new InfluenceCommand()).execute(args));
    assertEquals(before, Files.getLastModifiedTime(out.resolve(Stages.SCORES).resolve(ScoreJob.SUMMARY_FILE))
        .toMillis());

    // The same output with other settings is refused.
    String[] changed = args.clone();
    changed[changed.length - 1] = "extract.projection.k-out=4";
    org.junit.jupiter.api.Assertions.assertNotEquals(0, new CommandLine(new InfluenceCommand()).execute(changed));
  }

  /** Each example's gradient divided by its Euclidean norm over all its layers, in float64. */
  private static List<ExampleGradient> unit(List<ExampleGradient> examples) {
    List<ExampleGradient> out = new ArrayList<>();
    for (ExampleGradient e : examples) {
      double ss = 0;
      for (var l : e.layers().values()) {
        double n = l.castTo(DataType.DOUBLE).norm2Number().doubleValue();
        ss += n * n;
      }
      double norm = Math.sqrt(ss);
      java.util.Map<String, org.nd4j.linalg.api.ndarray.INDArray> layers = new java.util.LinkedHashMap<>();
      e.layers().forEach((name, g) -> layers.put(name, g.castTo(DataType.DOUBLE).div(norm)));
      out.add(new ExampleGradient(e.id(), layers));
    }
    return out;
  }

  private static Row find(List<Row> rows, String query, String direction, int rank) {
    return rows.stream().filter(r -> query.equals(r.getAs("query_id")) && direction.equals(r.getAs("direction"))
        && rank == (int) r.getAs("rank")).findFirst().orElseThrow(() -> new AssertionError(
            "no row for " + query + " " + direction + " " + rank));
  }
}
