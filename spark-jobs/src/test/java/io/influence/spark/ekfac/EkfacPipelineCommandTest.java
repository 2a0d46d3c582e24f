package io.influence.spark.ekfac;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.grad.GradientExtractor;
import io.influence.core.grad.Preconditioner;
import io.influence.core.model.Gpt2Model;
import io.influence.core.tracin.ExampleGradient;
import io.influence.ekfac.Damping;
import io.influence.ekfac.KroneckerPreconditioners;
import io.influence.spark.cli.InfluenceCommand;
import io.influence.spark.io.Queries;
import io.influence.spark.method.QueryGradients;
import io.influence.spark.pipeline.Stages;
import io.influence.spark.score.ScoreJob;
import io.influence.spark.selfinf.SelfInfluenceJob;
import io.influence.spark.store.GradientStore;
import io.influence.spark.store.StoreMetadata;
import io.influence.spark.testing.LocalSpark;
import io.influence.spark.testing.TinyRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import picocli.CommandLine;

/**
 * {@code influence run} with {@code score.method = ekfac} and {@code self-influence.method = ekfac} on
 * {@code local[2]}: top-k / bottom-k and self-influence equal a brute-force one-machine computation: factors fitted
 * by {@link OneMachineEkfac} from one-machine gradients, each query gradient preconditioned by its checkpoint's
 * EK-FAC with relative damping 0.1, dotted with every training gradient, summed over both checkpoints.
 */
class EkfacPipelineCommandTest {

  /** Relative to the largest |score| of the query (float32 gradients, float32 scoring GEMM). */
  private static final double TOLERANCE = 1e-4;

  @TempDir Path dir;

  @Test
  void run_ekfacMethods_matchOneMachineEkfac() throws Exception {
    TinyRun tiny = TinyRun.create(dir);
    Path queries = dir.resolve("queries.jsonl");
    Files.writeString(queries, "{\"id\": \"q1\", \"prompt\": \"the red\", \"completion\": \" cat sleeps.\"}\n"
        + "{\"id\": \"q2\", \"prompt\": \"a blue bird\", \"completion\": \" sings quietly.\"}\n");
    Path out = dir.resolve("out");
    String[] args = {"run", "--corpus", tiny.corpus().toString(), "--run", dir.resolve("run").toString(),
        "--queries", queries.toString(), "--out", out.toString(), "--master", "local[2]",
        "-D", "score.top-k=5", "-D", "extract.projection.k-in=6", "-D", "extract.projection.k-out=5",
        "-D", "score.method=ekfac", "-D", "self-influence.method=ekfac", "-D", "ekfac.partitions=3",
        "-D", "ekfac.checkpoints=all"};
    assertEquals(0, new CommandLine(new InfluenceCommand()).execute(args));
    List<Row> rows = LocalSpark.get().read().parquet(out.resolve(Stages.SCORES).resolve(ScoreJob.SCORES_FOLDER)
        .toString()).collectAsList();
    List<Row> self = LocalSpark.get().read().parquet(out.resolve(Stages.SELF_INFLUENCE)
        .resolve(SelfInfluenceJob.DATA_FOLDER).toString()).collectAsList();

    // One machine: gradients, factors, preconditioned queries, all scores by brute force.
    List<Queries.Query> qs = List.of(new Queries.Query("q1", "the red", " cat sleeps."),
        new Queries.Query("q2", "a blue bird", " sings quietly."));
    List<int[]> corpus = tiny.texts().stream().map(tiny.tokenizer()::encode).toList();
    int n = tiny.ids().size();
    double[][] scores = new double[qs.size()][n];
    double[] selfInfluence = new double[n];
    for (RunCheckpoint c : tiny.run().checkpoints()) {
      Gpt2Model m = Gpt2Model.load(c.dir(), DataType.FLOAT);
      List<ExampleGradient> train = new GradientExtractor(m, m.projections(m.linearLayers(), 6, 5, 42), 1)
          .extract(tiny.ids(), corpus, null);
      Map<String, Map<String, INDArray>> byId = new HashMap<>();
      train.forEach(g -> byId.put(g.id(), g.layers()));
      StoreMetadata meta = GradientStore.metadata(LocalSpark.get(), out.resolve(Stages.GRADIENTS), "step-" + c.step());
      Preconditioner p = KroneckerPreconditioners.ekfac(OneMachineEkfac.fit(c, corpus, meta, byId),
          Damping.relativeToMean(0.1));
      List<ExampleGradient> query = QueryGradients.projected(qs, c, meta);
      for (int q = 0; q < qs.size(); q++) {
        Map<String, INDArray> pq = p.apply(query.get(q).layers());
        for (int i = 0; i < n; i++) {
          scores[q][i] += dot(pq, train.get(i).layers());
        }
      }
      for (int i = 0; i < n; i++) {
        selfInfluence[i] += dot(p.apply(train.get(i).layers()), train.get(i).layers());
      }
    }

    for (int q = 0; q < qs.size(); q++) {
      String qid = qs.get(q).id();
      double[] s = scores[q];
      double scale = java.util.Arrays.stream(s).map(Math::abs).max().orElseThrow();
      List<Integer> order = IntStream.range(0, n).boxed()
          .sorted(Comparator.comparingDouble((Integer i) -> -s[i]).thenComparing(i -> tiny.ids().get(i))).toList();
      for (int rank = 1; rank <= 5; rank++) {
        int i = order.get(rank - 1);
        Row got = find(rows, qid, "top", rank);
        assertEquals(tiny.ids().get(i), got.getAs("train_id"), qid + " top rank " + rank);
        assertEquals(s[i], (double) got.getAs("score"), TOLERANCE * scale, qid + " top score at rank " + rank);
        assertEquals("ekfac", got.getAs("method"));
        assertEquals(0.1, (double) got.getAs("damping"), 0.0);
        assertEquals("relative", got.getAs("damping_mode"));
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        assertEquals(json.readTree("{\"preconditioner\": \"ekfac\", \"fisher\": {\"step-3\": \"empirical\", "
            + "\"step-6\": \"empirical\"}}"), json.readTree((String) got.getAs("solver")));
        scala.collection.Map<String, Double> lambda = got.getAs("damping_lambda");
        assertTrue(lambda.size() > 0, "resolved λ recorded");
        // one resolved λ per checkpoint and layer block, 0.1 × that block's mean eigenvalue (> 0)
        scala.jdk.javaapi.CollectionConverters.asJava(lambda).forEach((where, l) ->
            assertTrue(where.matches("step-\\d+/.+") && l > 0, where + " " + l));
        int j = order.get(n - rank);
        Row bottom = find(rows, qid, "bottom", rank);
        assertEquals(tiny.ids().get(j), bottom.getAs("train_id"), qid + " bottom rank " + rank);
        assertEquals(s[j], (double) bottom.getAs("score"), TOLERANCE * scale, qid + " bottom score at rank " + rank);
      }
    }
    assertEquals(n, self.size());
    double selfScale = java.util.Arrays.stream(selfInfluence).max().orElseThrow();
    for (Row r : self) {
      int i = tiny.ids().indexOf(r.getString(0));
      assertEquals(selfInfluence[i], r.getDouble(1), TOLERANCE * selfScale, "self-influence of " + r.getString(0));
    }
    assertTrue(FactorStore.isComplete(out.resolve(Stages.FACTORS), "step-3"));
    assertTrue(FactorStore.isComplete(out.resolve(Stages.FACTORS), "step-6"));

    // A second run recomputes nothing; a different damping is refused on the same output.
    long before = Files.getLastModifiedTime(out.resolve(Stages.SCORES).resolve(ScoreJob.SUMMARY_FILE)).toMillis();
    assertEquals(0, new CommandLine(new InfluenceCommand()).execute(args));
    assertEquals(before, Files.getLastModifiedTime(out.resolve(Stages.SCORES).resolve(ScoreJob.SUMMARY_FILE))
        .toMillis());
    String[] changed = java.util.Arrays.copyOf(args, args.length + 2);
    changed[args.length] = "-D";
    changed[args.length + 1] = "ekfac.damping.value=0.2";
    org.junit.jupiter.api.Assertions.assertNotEquals(0, new CommandLine(new InfluenceCommand()).execute(changed));
  }

  private static double dot(Map<String, INDArray> a, Map<String, INDArray> b) {
    double s = 0;
    for (Map.Entry<String, INDArray> e : a.entrySet()) {
      double[] x = e.getValue().castTo(DataType.DOUBLE).dup('c').data().asDouble();
      double[] y = b.get(e.getKey()).castTo(DataType.DOUBLE).dup('c').data().asDouble();
      for (int i = 0; i < x.length; i++) {
        s += x[i] * y[i];
      }
    }
    return s;
  }

  private static Row find(List<Row> rows, String query, String direction, int rank) {
    return rows.stream().filter(r -> query.equals(r.getAs("query_id")) && direction.equals(r.getAs("direction"))
        && rank == (int) r.getAs("rank")).findFirst().orElseThrow(() -> new AssertionError(
            "no row for " + query + " " + direction + " " + rank));
  }
}
