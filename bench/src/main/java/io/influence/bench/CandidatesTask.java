package io.influence.bench;

import io.influence.spark.config.BlasThreads;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.Sessions;
import io.influence.spark.pipeline.Stages;
import io.influence.spark.train.TrainJob;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * Corpus scale: how much of the exact answer a cheap recall stage keeps. On the planted-facts corpus
 * ({@link BenchCorpus}, model trained by our trainer) the exhaustive answer is affordable: every query is scored
 * against every training sequence by the final method (EK-FAC on the {@code exact.k}×{@code exact.k} Kronecker
 * projection, the real Spark pipeline). Its top-k is the truth. Each recall pipeline keeps M candidates per
 * query, and the final method then ranks only those (score.candidates), so the pipeline's top-k holds exactly the
 * true top-k sequences that are candidates: recall@k = |candidates ∩ exhaustive top-k| / k, averaged over queries.
 * <ul>
 *   <li>{@code tfidf}: the MLlib prefilter ({@code Stages.candidates}, TF-IDF cosine of words) at M;</li>
 *   <li>{@code bm25}: the same with BM25;</li>
 *   <li>{@code proj}: TracIn on a small {@code recall.k}×{@code recall.k} projection (its own extract) at M;</li>
 *   <li>{@code proj-unit}: the same, each training row's score divided by the square root of its (small-projection)
 *       TracIn self-influence, i.e. unit-normalised gradients (up to the checkpoint weighting);</li>
 *   <li>{@code tfidf>proj}: TF-IDF keeps 4M, the small projection keeps M of them (both stages).</li>
 * </ul>
 * Times: the exhaustive path (extract at the exact size, fit-ekfac, score every row) against each recall stage and
 * the final method's score restricted to the TF-IDF candidates at each M (measured), all on local Spark. The
 * extraction the exact stage would save on candidates is not measured (this engine extracts the whole corpus).
 *
 * <p>Flags ({@code -P}): {@code fortunes} (quick 80, full 0 = all), {@code k} (10), {@code fractions} (of the
 * corpus, comma list; default 0.05,0.1,0.2,0.4), {@code exact.k} (16), {@code recall.k} (4), the model sizes of
 * {@link BenchPipeline} (as planted-facts).
 */
final class CandidatesTask implements BenchTask {

  @Override
  public String name() {
    return "candidates";
  }

  @Override
  public String kind() {
    return "quality";
  }

  @Override
  public String description() {
    return "recall@k of the exhaustive EK-FAC top-k kept by TF-IDF / BM25 candidates, small-projection TracIn and both,"
        + " at several M, with times";
  }

  @Override
  public BenchResult run(BenchOptions o) throws Exception {
    try (BlasThreads threads = BlasThreads.set(o.intParam("threads", 1, 1))) {
      return measure(o);
    }
  }

  private BenchResult measure(BenchOptions o) throws Exception {
    BenchResult.Builder result = BenchResult.of(name());
    BenchCorpus.Written data = BenchCorpus.write(o.workDir().resolve("data"), o.intParam("fortunes", 80, 0), 160,
        BenchFacts.ALL.size(), 0, o.intParam("vocab", PlantedFactsTask.QUICK.vocab(), PlantedFactsTask.FULL.vocab()),
        o.seed());
    int n = data.texts().size();
    int k = o.intParam("k", 10, 10);
    int exactK = o.intParam("exact.k", 16, 16);
    int recallK = o.intParam("recall.k", 4, 4);
    List<Double> fractions = new ArrayList<>();
    for (String f : o.param("fractions", "0.05,0.1,0.2,0.4").split(",")) {
      fractions.add(Double.parseDouble(f.trim()));
    }
    InfluenceSettings base = BenchPipeline.settings(o, PlantedFactsTask.QUICK, PlantedFactsTask.FULL,
        o.workDir().resolve("exact"), data);
    TrainJob.Result trained = BenchPipeline.train(base, line -> System.err.println("[candidates] " + line));
    InfluenceSettings exact = base.with("extract.projection.k-in", exactK).with("extract.projection.k-out", exactK);
    InfluenceSettings small = base.with("output.dir", o.workDir().resolve("recall").toString())
        .with("extract.projection.k-in", recallK).with("extract.projection.k-out", recallK);

    Map<String, Double> seconds = new LinkedHashMap<>();
    Map<String, Map<String, Double>> truth;
    Map<String, List<String>> tfidf;
    Map<String, List<String>> bm25;
    Map<String, Map<String, Double>> proj;
    Map<String, Double> self;
    Map<Double, Double> restrictedSeconds = new LinkedHashMap<>();
    SparkSession spark = Sessions.create(base.spark());
    try {
      long t = System.nanoTime();
      Stages.extract(spark, exact);
      seconds.put("exact.extract", since(t));
      t = System.nanoTime();
      Stages.fitEkfac(spark, exact);
      seconds.put("exact.fit-ekfac", since(t));
      t = System.nanoTime();
      truth = BenchPipeline.scores(spark, exact, "ekfac");
      seconds.put("exact.score-all", since(t));
      t = System.nanoTime();
      tfidf = lists(spark, exact.with("candidates.top-m", n));
      seconds.put("tfidf.candidates", since(t));
      t = System.nanoTime();
      bm25 = lists(spark, exact.with("candidates.top-m", n).with("candidates.scorer", "bm25")
          .with("output.dir", o.workDir().resolve("bm25").toString()));
      seconds.put("bm25.candidates", since(t));
      t = System.nanoTime();
      Stages.extract(spark, small);
      seconds.put("proj.extract", since(t));
      t = System.nanoTime();
      proj = BenchPipeline.scores(spark, small.with("score.gradients", "raw"), "tracin");   // proj-unit divides below
      seconds.put("proj.score-all", since(t));
      self = BenchPipeline.selfInfluence(spark, small, "tracin");
      for (double f : fractions) {   // the final method on the TF-IDF candidates only, as a user would run it
        int m = (int) Math.ceil(f * n);
        t = System.nanoTime();
        Stages.score(spark, exact.with("score.candidates", true).with("candidates.top-m", m)
            .with("score.folder", "scores-candidates-" + m).with("score.method", "ekfac").with("score.top-k", k)
            .with("output.overwrite", true));
        restrictedSeconds.put(f, since(t));
      }
    } finally {
      spark.stop();
    }

    List<String> queries = new ArrayList<>(truth.keySet());
    Map<String, List<String>> projRanking = new LinkedHashMap<>();
    Map<String, List<String>> unitRanking = new LinkedHashMap<>();
    for (String q : queries) {
      projRanking.put(q, RankingMetrics.ranking(proj.get(q)));
      Map<String, Double> unit = new LinkedHashMap<>();
      proj.get(q).forEach((id, s) -> unit.put(id, s / Math.sqrt(Math.max(self.get(id), 1e-30))));
      unitRanking.put(q, RankingMetrics.ranking(unit));
    }
    for (double f : fractions) {
      int m = (int) Math.ceil(f * n);
      double[] sums = new double[5];
      for (String q : queries) {
        Set<String> top = new HashSet<>(RankingMetrics.ranking(truth.get(q)).subList(0, k));
        List<String> lexical = tfidf.getOrDefault(q, List.of());
        sums[0] += recall(top, lexical.subList(0, Math.min(m, lexical.size())), k);
        List<String> b = bm25.getOrDefault(q, List.of());
        sums[1] += recall(top, b.subList(0, Math.min(m, b.size())), k);
        sums[2] += recall(top, projRanking.get(q).subList(0, m), k);
        sums[3] += recall(top, unitRanking.get(q).subList(0, m), k);
        Set<String> wide = new HashSet<>(lexical.subList(0, Math.min(4 * m, lexical.size())));
        List<String> chained = projRanking.get(q).stream().filter(wide::contains).limit(m).toList();
        sums[4] += recall(top, chained, k);
      }
      String at = String.format(Locale.ROOT, "@M=%d(%.0f%%)", m, 100 * f);
      String[] names = {"tfidf", "bm25", "proj", "proj-unit", "tfidf>proj"};
      for (int i = 0; i < names.length; i++) {
        result.metric(names[i] + ".recall" + at, sums[i] / queries.size());
      }
      result.metric("seconds.exact-score-on-tfidf" + at, restrictedSeconds.get(f));
    }
    seconds.forEach((key, v) -> result.metric("seconds." + key, v));
    result.note(String.format(Locale.ROOT, "corpus: %d sequences (fortunes + planted facts), %d queries; truth: "
        + "EK-FAC (ekfac.checkpoints = last) on the %dx%d projection, every query against every sequence; recall@%d of "
        + "its top-%d; seed %d", n, queries.size(), exactK, exactK, k, k, o.seed()));
    result.note(BenchPipeline.describe(small, trained) + " (recall stage); the exact stage uses " + exactK + "x"
        + exactK);
    result.note("tfidf/bm25: Stages.candidates (Spark MLlib CountVectorizer + IDF, words); proj: TracIn over all "
        + "checkpoints on the " + recallK + "x" + recallK + " projection (score.gradients = raw); proj-unit: proj / sqrt(TracIn self-influence); "
        + "tfidf>proj: TF-IDF top-4M, then proj's top-M among them");
    result.note("seconds.exact-score-on-tfidf@M: `score` with score.candidates = true (candidates stage + EK-FAC score of"
        + " the candidates only; the fitted lexical model is reused, the lists recomputed at M), against seconds.exact.score-all; extraction and fit-ekfac still "
        + "cover the whole corpus. " + MachineLoad.now());
    return result.build();
  }

  /** Per query, the candidate ids in rank order (rows with a positive lexical score only). */
  private static Map<String, List<String>> lists(SparkSession spark, InfluenceSettings s) {
    Map<String, List<String>> out = new LinkedHashMap<>();
    for (Row r : Stages.candidates(spark, s).collectAsList()) {
      out.computeIfAbsent(r.getAs("query_id"), x -> new ArrayList<>()).add(r.getAs("train_id"));
    }
    return out;
  }

  private static double recall(Set<String> top, List<String> candidates, int k) {
    Set<String> c = new LinkedHashSet<>(candidates);
    c.retainAll(top);
    return (double) c.size() / k;
  }

  private static double since(long start) {
    return (System.nanoTime() - start) / 1e9;
  }
}
