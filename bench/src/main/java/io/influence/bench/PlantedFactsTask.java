package io.influence.bench;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.lexical.Bm25;
import io.influence.core.model.CausalLm;
import io.influence.core.tokenizer.PromptCompletion;
import io.influence.core.tokenizer.Tokenizer;
import io.influence.spark.config.BlasThreads;
import io.influence.spark.config.Choices;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.Sessions;
import io.influence.spark.io.Queries;
import io.influence.spark.pipeline.Stages;
import io.influence.spark.train.TrainJob;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Planted facts: do the sequences that state a fact come out on top for the fact's query? The corpus is
 * {@link BenchCorpus} (Debian fortunes + the 24 facts of {@link BenchFacts}, 2–5 statements each), the model
 * is trained on it by our trainer, and every query (verbatim and paraphrased prompt, the fact's completion) is
 * ranked against the whole corpus by
 * <ul>
 *   <li>TracIn and EK-FAC: the real pipeline ({@link Stages}: extract, fit-ekfac, score) on local Spark;</li>
 *   <li>CG and LiSSA: influence functions with exact Gauss-Newton products on one machine
 *       ({@link OneMachineIhvp}, final checkpoint, last block's layers by default);</li>
 *   <li>BM25 ({@link Bm25}) of the query text (prompt + completion) against the training texts.</li>
 * </ul>
 * Figures per method and wording, averaged over facts: recall@1 (a planted sequence ranks first), recall@10
 * (fraction of the fact's planted sequences in the top 10) and MRR (1 / rank of the first planted sequence).
 *
 * <p>Flags ({@code -P}): {@code fortunes} (quick 80, full 0 = all 430), {@code facts} (24), the model sizes of
 * {@link BenchPipeline}, {@code ihvp.layers} (last-block | all | comma list), {@code ihvp.sample} (training
 * sequences in G; quick 32, full 64), {@code ihvp.damping} (0.1 × mean eigenvalue), {@code ihvp.batch} (64),
 * {@code cg.iterations} (quick 5, full 10), {@code lissa.depth} (0 = off: each LiSSA step costs as much as a CG
 * iteration, and a useful depth does not fit the time budget on 2 cores; {@code -P lissa.depth=20} turns it on),
 * {@code ekfac.true-fisher} (quick 0, full 1: EK-FAC on the true Fisher too, as {@code ekfac-true}),
 * {@code tailpatch.k} (quick 5, full 10) and {@code tailpatch.rate} (train.learning-rate): tail-patch of each method's
 * top k ({@link TailPatch}); {@code adam} (1: also TracIn on Adam-preconditioned gradients, raw and unit, rows
 * {@code tracin-adam} and {@code tracin-adam-unit}, and EK-FAC on them, {@code ekfac-adam}; 0: not).
 */
final class PlantedFactsTask implements BenchTask {

  static final BenchPipeline.Sizes QUICK = new BenchPipeline.Sizes(384, 32, 2, 2, 120, 2);
  static final BenchPipeline.Sizes FULL = new BenchPipeline.Sizes(512, 64, 2, 2, 400, 4);

  @Override
  public String name() {
    return "planted-facts";
  }

  @Override
  public String kind() {
    return "quality";
  }

  @Override
  public String description() {
    return "recall@1/@10 and MRR of the sequences stating each planted fact, for TracIn, EK-FAC, CG, LiSSA and BM25,"
        + " verbatim and paraphrased queries";
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
        o.intParam("facts", BenchFacts.ALL.size(), BenchFacts.ALL.size()), 0,
        o.intParam("vocab", QUICK.vocab(), FULL.vocab()), o.seed());
    Path out = o.workDir().resolve("out");
    InfluenceSettings s = BenchPipeline.settings(o, QUICK, FULL, out, data);
    long t0 = System.nanoTime();
    TrainJob.Result trained = BenchPipeline.train(s, line -> System.err.println("[planted-facts] " + line));
    double trainSeconds = seconds(t0);

    Map<String, Map<String, Map<String, Double>>> scores = new LinkedHashMap<>();
    Map<String, Double> stageSeconds = new LinkedHashMap<>();
    SparkSession spark = Sessions.create(s.spark());
    try {
      long t = System.nanoTime();
      Stages.extract(spark, s);
      stageSeconds.put("extract", seconds(t));
      t = System.nanoTime();
      // "tracin" stays the raw inner products (the default is unit for TracIn since issue 16), "tracin-unit" the default
      scores.put("tracin", BenchPipeline.scores(spark, s.with("score.gradients", "raw"), "tracin"));
      stageSeconds.put("score-tracin", seconds(t));
      t = System.nanoTime();
      scores.put("tracin-unit", BenchPipeline.scores(spark, s.with("score.gradients", "unit")
          .with("score.folder", "scores-tracin-unit"), "tracin"));
      stageSeconds.put("score-tracin-unit", seconds(t));
      boolean withAdam = o.intParam("adam", 1, 1) != 0;
      InfluenceSettings adam = s.with("extract.optimizer-preconditioning", "adam")
          .with("output.dir", out.resolve("adam").toString());
      if (withAdam) {   // Adam-aware gradients: a second store, under out/adam
        t = System.nanoTime();
        Stages.extract(spark, adam);
        stageSeconds.put("extract-adam", seconds(t));
        t = System.nanoTime();
        scores.put("tracin-adam", BenchPipeline.scores(spark, adam.with("score.gradients", "raw"), "tracin"));
        scores.put("tracin-adam-unit", BenchPipeline.scores(spark, adam.with("score.gradients", "unit")
            .with("score.folder", "scores-tracin-unit"), "tracin"));
        stageSeconds.put("score-tracin-adam", seconds(t));
      }
      t = System.nanoTime();
      Stages.fitEkfac(spark, s);
      stageSeconds.put("fit-ekfac", seconds(t));
      t = System.nanoTime();
      scores.put("ekfac", BenchPipeline.scores(spark, s, "ekfac"));
      stageSeconds.put("score-ekfac", seconds(t));
      t = System.nanoTime();
      scores.put("ekfac-unit", BenchPipeline.scores(spark, s.with("score.gradients", "unit")
          .with("score.folder", "scores-ekfac-unit"), "ekfac"));
      stageSeconds.put("score-ekfac-unit", seconds(t));
      if (withAdam) {   // EK-FAC in Adam's coordinates: raw eigenbasis, correction from the scaled rows
        t = System.nanoTime();
        Stages.fitEkfac(spark, adam);
        scores.put("ekfac-adam", BenchPipeline.scores(spark, adam.with("score.gradients", "raw")
            .with("score.folder", "scores-ekfac"), "ekfac"));
        stageSeconds.put("fit-and-score-ekfac-adam", seconds(t));
      }
      t = System.nanoTime();
      scores.put("representer", BenchPipeline.scores(spark, s.with("score.folder", "scores-representer"),
          "representer"));
      stageSeconds.put("score-representer", seconds(t));
      if (o.intParam("ekfac.true-fisher", 0, 1) != 0) {   // last: it refits the factors on sampled labels
        t = System.nanoTime();
        InfluenceSettings trueFisher = s.with("ekfac.fisher", "true").with("score.folder", "scores-ekfac-true");
        Stages.fitEkfac(spark, trueFisher);
        scores.put("ekfac-true", BenchPipeline.scores(spark, trueFisher, "ekfac"));
        stageSeconds.put("fit-and-score-ekfac-true", seconds(t));
      }
    } finally {
      spark.stop();
    }
    stageSeconds.forEach((k, v) -> System.err.printf(Locale.ROOT, "[planted-facts] %s: %.1f s%n", k, v));

    long t = System.nanoTime();
    List<String> ihvpNotes = ihvp(o, s, trained, data, scores);
    stageSeconds.put("cg-lissa", seconds(t));

    t = System.nanoTime();
    List<String> ids = new ArrayList<>(data.texts().keySet());
    scores.put("bm25", bm25(data));
    stageSeconds.put("bm25", seconds(t));

    Map<String, Double> figures = new LinkedHashMap<>();
    for (Map.Entry<String, Map<String, Map<String, Double>>> m : scores.entrySet()) {
      for (String wording : List.of("verbatim", "paraphrased")) {
        double[] f = figures(m.getKey(), m.getValue(), data, Set.of(wording));
        String prefix = m.getKey() + "." + wording + ".";
        figures.put(prefix + "recall@1", f[0]);
        figures.put(prefix + "recall@10", f[1]);
        figures.put(prefix + "mrr", f[2]);
      }
    }
    figures.forEach((k, v) -> {
      if (k.equals("ekfac.verbatim.recall@10")) {
        result.atLeast(k, v, 0.9);
      } else {
        result.metric(k, v);
      }
    });
    // rounded to 1e-12 so that equal recalls summed in another order read as a tie, not as ±1e-16
    double margin = figures.get("ekfac.paraphrased.recall@10") - figures.get("bm25.paraphrased.recall@10");
    result.atLeast("ekfac-bm25.paraphrased.recall@10", Math.round(margin * 1e12) / 1e12, 0.01);
    t = System.nanoTime();
    tailPatch(o, s, trained, data, scores, result);
    stageSeconds.put("tail-patch", seconds(t));
    result.metric("seconds.train", trainSeconds);
    stageSeconds.forEach((k, v) -> result.metric("seconds." + k, v));

    int planted = data.planted().values().stream().distinct().mapToInt(List::size).sum();
    result.note(String.format(Locale.ROOT, "corpus: %d sequences = %d fortunes (Debian fortunes-min) + %d planted "
            + "statements of %d invented facts (2-5 each); %d queries (verbatim and paraphrased prompt per fact); seed %d",
        ids.size(), ids.size() - planted, planted, data.facts().size(), data.planted().size(), o.seed()));
    result.note(BenchPipeline.describe(s, trained));
    result.note("tracin, ekfac: score.gradients = raw; tracin-unit, ekfac-unit: the same with score.gradients = unit "
        + "(cosines of unit-normalised gradients; the default, auto, is unit for tracin and raw for ekfac)");
    result.note("tracin-adam, tracin-adam-unit: the same with extract.optimizer-preconditioning = adam (each "
        + "per-example gradient, training rows and queries, divided per parameter by sqrt(v_hat) + eps of the AdamW "
        + "state saved with its checkpoint, before the projection), raw and unit; ekfac-adam: EK-FAC on that store (the raw "
        + "token factors' eigenbasis, the eigenvalue correction from the scaled rows, queries scaled alike); -P adam=0 "
        + "leaves them out");
    result.note("representer: representer points of the last checkpoint's head fine-tuned with L2 (representer block)");
    result.note("tracin, ekfac: the Spark pipeline (extract, fit-ekfac, score) on local Spark, ekfac with "
        + "ekfac.checkpoints = " + Choices.word(s.ekfac().checkpoints()) + ", damping " + s.ekfac().dampingWords());
    ihvpNotes.forEach(result::note);
    result.note("bm25: our Okapi BM25 (k1 1.2, b 0.75, Lucene idf) over lower-cased letter/digit runs, no stemming "
        + "or stop words; query text = prompt + completion");
    result.note("recall@1: share of queries whose first-ranked sequence is planted for them; recall@10: share of the "
        + "fact's planted sequences in the top 10, averaged over queries; mrr: mean 1/rank of the first planted sequence");
    return result.build();
  }

  /**
   * Tail-patch ({@link TailPatch}) of each method's top k per wording, beside two references: the fact's planted
   * sequences themselves (ranked first, then the rest in corpus order) and a seeded random ranking.
   */
  private static void tailPatch(BenchOptions o, InfluenceSettings s, TrainJob.Result trained, BenchCorpus.Written data,
                                Map<String, Map<String, Map<String, Double>>> scores, BenchResult.Builder result)
      throws Exception {
    int k = o.intParam("tailpatch.k", 5, 10);
    double rate = o.doubleParam("tailpatch.rate", s.train().learningRate(), s.train().learningRate());
    List<RunCheckpoint> cps = trained.run().checkpoints();
    Path dir = cps.get(cps.size() - 1).dir();
    CausalLm model = CausalLm.load(dir, DataType.FLOAT);
    Tokenizer tokenizer = Tokenizer.fromTokenizerJson(dir.resolve("tokenizer.json"));
    Map<String, int[]> train = new LinkedHashMap<>();
    data.texts().forEach((id, text) -> train.put(id, tokenizer.encode(text)));
    Map<String, List<TailPatch.Query>> byWording = new LinkedHashMap<>();
    for (Queries.Query q : data.queryList()) {
      PromptCompletion e = PromptCompletion.encode(tokenizer, q.id(), q.prompt(), q.completion(),
          model.config().maxPositions());
      byWording.computeIfAbsent(data.queryWording().get(q.id()), w -> new ArrayList<>())
          .add(new TailPatch.Query(q.id(), e.tokens(), e.lossMask()));
    }
    Map<String, Map<String, List<String>>> rankings = new LinkedHashMap<>();
    for (Map.Entry<String, Map<String, Map<String, Double>>> m : scores.entrySet()) {
      Map<String, List<String>> r = new LinkedHashMap<>();
      m.getValue().forEach((q, byTrain) -> r.put(q, RankingMetrics.ranking(byTrain)));
      rankings.put(m.getKey(), r);
    }
    Map<String, List<String>> planted = new LinkedHashMap<>();
    Map<String, List<String>> random = new LinkedHashMap<>();
    java.util.Random rnd = new java.util.Random(o.seed());
    for (Map.Entry<String, List<String>> q : data.planted().entrySet()) {
      List<String> first = new ArrayList<>(q.getValue());
      train.keySet().stream().filter(id -> !q.getValue().contains(id)).forEach(first::add);
      planted.put(q.getKey(), first);
      List<String> shuffled = new ArrayList<>(train.keySet());
      java.util.Collections.shuffle(shuffled, rnd);
      random.put(q.getKey(), shuffled);
    }
    rankings.put("planted", planted);
    rankings.put("random", random);
    TailPatch patch = new TailPatch(model, train, rate);
    for (Map.Entry<String, Map<String, List<String>>> m : rankings.entrySet()) {
      for (Map.Entry<String, List<TailPatch.Query>> w : byWording.entrySet()) {
        result.metric("tailpatch." + m.getKey() + "." + w.getKey(), patch.mean(w.getValue(), m.getValue(), k));
      }
    }
    result.note(String.format(Locale.ROOT, "tailpatch.<method>.<wording>: mean increase of the query completion's "
        + "log-probability (nats) after one SGD step of %.3g (train.learning-rate) on one of the method's top %d "
        + "sequences alone, averaged over the top %d and the queries (TrackStar's tail-patch); planted = the fact's "
        + "own statements first, random = a seeded random ranking", rate, k, k));
  }

  /** BM25 of each query's text (prompt + completion) against every training text: query → train → score. */
  static Map<String, Map<String, Double>> bm25(BenchCorpus.Written data) {
    List<String> ids = new ArrayList<>(data.texts().keySet());
    Bm25 bm25 = new Bm25(new ArrayList<>(data.texts().values()));
    Map<String, Map<String, Double>> lexical = new LinkedHashMap<>();
    for (Queries.Query q : data.queryList()) {
      double[] v = bm25.scores(q.prompt() + q.completion());
      Map<String, Double> m = new LinkedHashMap<>();
      for (int i = 0; i < v.length; i++) {
        m.put(ids.get(i), v[i]);
      }
      lexical.put(q.id(), m);
    }
    return lexical;
  }

  /**
   * Recall@1, recall@10 and MRR of the planted sequences, averaged over the queries of the given wordings
   * ("verbatim", "paraphrased"); {@code byQuery} must rank every training sequence for every such query.
   */
  static double[] figures(String method, Map<String, Map<String, Double>> byQuery, BenchCorpus.Written data,
      Set<String> wordings) {
    double[] sums = new double[3];
    int n = 0;
    for (Map.Entry<String, List<String>> q : data.planted().entrySet()) {
      if (!wordings.contains(data.queryWording().get(q.getKey()))) {
        continue;
      }
      Map<String, Double> byTrain = byQuery.get(q.getKey());
      if (byTrain == null || byTrain.size() != data.texts().size()) {
        throw new IllegalStateException(method + " ranked " + (byTrain == null ? 0 : byTrain.size()) + " of "
            + data.texts().size() + " training sequences for query " + q.getKey());
      }
      List<String> ranking = RankingMetrics.ranking(byTrain);
      Set<String> relevant = new HashSet<>(q.getValue());
      sums[0] += RankingMetrics.hitAt1(ranking, relevant);
      sums[1] += RankingMetrics.recallAt(ranking, relevant, 10);
      sums[2] += RankingMetrics.reciprocalRank(ranking, relevant);
      n++;
    }
    return new double[] {sums[0] / n, sums[1] / n, sums[2] / n};
  }

  /** CG and LiSSA scores on one machine at the final checkpoint, added to {@code scores}; returns the notes. */
  private static List<String> ihvp(BenchOptions o, InfluenceSettings s, TrainJob.Result trained, BenchCorpus.Written data,
                                   Map<String, Map<String, Map<String, Double>>> scores) throws Exception {
    List<RunCheckpoint> cps = trained.run().checkpoints();
    Path dir = cps.get(cps.size() - 1).dir();
    CausalLm model = CausalLm.load(dir, DataType.FLOAT);
    Tokenizer tokenizer = Tokenizer.fromTokenizerJson(dir.resolve("tokenizer.json"));
    List<String> ids = new ArrayList<>(data.texts().keySet());
    List<int[]> tokens = data.texts().values().stream().map(tokenizer::encode).toList();
    List<OneMachineIhvp.Query> queries = new ArrayList<>();
    for (Queries.Query q : data.queryList()) {
      PromptCompletion e = PromptCompletion.encode(tokenizer, q.id(), q.prompt(), q.completion(),
          model.config().maxPositions());
      queries.add(new OneMachineIhvp.Query(q.id(), e.tokens(), e.lossMask()));
    }
    var options = new OneMachineIhvp.Options(o.param("ihvp.layers", "last-block"), o.intParam("ihvp.sample", 32, 64),
        o.doubleParam("ihvp.damping", 0.1, 0.1), 4, o.intParam("cg.iterations", 5, 10), 1e-4,
        o.intParam("lissa.depth", 0, 0), o.intParam("ihvp.batch", 64, 64), o.seed());
    OneMachineIhvp.Result r = OneMachineIhvp.run(model, ids, tokens, queries, options,
        line -> System.err.println("[planted-facts] " + line));
    scores.putAll(r.scores());
    return r.notes();
  }

  private static double seconds(long start) {
    return (System.nanoTime() - start) / 1e9;
  }
}
