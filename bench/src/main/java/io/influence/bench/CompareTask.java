package io.influence.bench;

import io.influence.core.score.Stats;
import io.influence.spark.config.BlasThreads;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.Sessions;
import io.influence.spark.io.Queries;
import io.influence.spark.pipeline.Stages;
import io.influence.spark.train.TrainJob;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.IntStream;
import org.apache.spark.sql.SparkSession;

/*
 * Bench task "compare": every method of the engine on ONE small setting where retraining is affordable, one
 * table (a row per method, a column per truth).
 *
 * Setting: the bench corpus (BenchCorpus: a few dozen Debian fortunes + the planted statements of the first
 * `facts` invented facts, `corrupt` of the corpus replaced by corrupted sequences: shuffled tokens and statements
 * contradicting a fact), a tiny GPT-2 trained on it by `influence train` (TrainJob: our BPE, our Trainer) with
 * plain SGD (so that SGD-influence can replay the run; constant rate, no warm-up), the gradient store unprojected
 * (exact gradients). Queries: the facts' verbatim and paraphrased prompts with the fact's completion.
 *
 * Methods, each through the engine's Spark stages (Stages.extract, fitEkfac, score with score.method, selfInfluence)
 * on local Spark, each into its own score folder: tracin, tracin-unit (score.gradients = unit), ekfac, cg (exact
 * damped influence function, Gauss-Newton products over the corpus at the last checkpoint), representer,
 * sgd-influence (the recorded SGD run replayed), tmc-shapley (players = sequences, fine-tuning the last checkpoint,
 * the shapley block with a small permutation budget); and BM25 of the query text (no model).
 *
 * Columns (score sign: positive = helpful, i.e. removing the sequence should raise the query's loss):
 *  - loo: for each query, its `loo.top` training sequences of largest |score| under the method; Pearson of score
 *    and the actual change of the query's completion loss when the run is repeated without the sequence
 *    (Trainer.trainWithout: same seeds and batch order; every sequence is retrained once, shared by the methods);
 *    mean over queries (a query whose top scores or changes are constant is skipped and counted in the notes);
 *  - lds: `lds.models` models trained from scratch (same seeds and steps) on random `lds.fraction` subsets;
 *    Spearman of −Σ_{i∈S} score(i) and the actual query loss over the models; mean over queries;
 *  - recall@1 / mrr of the fact's planted statements (verbatim and paraphrased queries together);
 *  - cleaning: AUC and share of the corrupted sequences in the top 10% of a ranking by self-influence (the
 *    self-influence stage: tracin, ekfac, representer) or, for tmc-shapley, by lowest mean Shapley value over the queries
 *    (Ghorbani and Zou's use of data values); "—" with the reason for the others.
 *
 * Flags (-P key=value; quick/full): fortunes (8/16), facts (3/5), corrupt (0.15/0.1), loo.top (8/10), lds.models
 * (5/10), lds.fraction (0.5), shapley.permutations (4/12), the model sizes of BenchPipeline (vocab 300/320, width
 * 16/32, layers 1, heads 2, steps 40/100, checkpoints 3/4) and any engine key as -P set.KEY=VALUE (task defaults:
 * train.optimizer sgd, train.learning-rate 0.5, train.schedule constant without warm-up, train.batch-size 8,
 * extract.projection.enabled false, ihvp.cg.tolerance 1e-6, full only: ihvp.damping.value 0.1 and
 * ihvp.cg.max-iterations 150 (CG at 1e-10 took 25 min of Spark jobs on the loaded
 * 2-core machine), self-influence.normalize per-token). Every Spark stage costs its job overheads whatever the
 * corpus size, so on a loaded machine the quick version is slow too (README, "All methods on one setting").
 */
final class CompareTask implements BenchTask {

  static final BenchPipeline.Sizes QUICK = new BenchPipeline.Sizes(300, 16, 1, 2, 40, 3);
  static final BenchPipeline.Sizes FULL = new BenchPipeline.Sizes(320, 32, 1, 2, 100, 4);

  /** The rows of the table, in order: method word (as in the metric names) → how it is computed. */
  static final Map<String, String> METHODS = methods();

  /** Why a method has no cleaning figure. */
  static final Map<String, String> NO_CLEANING = Map.of(
      "tracin-unit", "unit-normalised self-influence is 1 for every sequence",
      "cg", "self-influence is not offered for cg (it would need one solve per sequence)",
      "sgd-influence", "its self-influence costs one backward replay per sequence; left out to keep the task's time",
      "bm25", "a lexical match has no self-influence");

  private static Map<String, String> methods() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("tracin", "score.method = tracin, score.gradients = raw (TracInCP over the checkpoints)");
    m.put("tracin-unit", "score.method = tracin, score.gradients = unit (cosines)");
    m.put("ekfac", "score.method = ekfac (fit-ekfac, default damping)");
    m.put("cg", "score.method = cg (exact damped Gauss-Newton influence, last checkpoint)");
    m.put("representer", "score.method = representer (head fine-tuned with L2)");
    m.put("sgd-influence", "score.method = sgd-influence (the SGD run replayed)");
    m.put("tmc-shapley", "score.method = tmc-shapley (fine-tuning the last checkpoint on coalitions)");
    m.put("bm25", "BM25 of prompt + completion against the texts");
    return m;
  }

  @Override
  public String name() {
    return "compare";
  }

  @Override
  public String kind() {
    return "quality";
  }

  @Override
  public String description() {
    return "every method on one small corpus: leave-one-out and LDS against retraining, planted-facts recall@1/MRR, "
        + "cleaning AUC; one table";
  }

  @Override
  public BenchResult run(BenchOptions o) throws Exception {
    try (BlasThreads threads = BlasThreads.set(1)) {
      return measure(o);
    }
  }

  private BenchResult measure(BenchOptions o) throws Exception {
    long t0 = System.nanoTime();
    BenchCorpus.Written data = BenchCorpus.write(o.workDir().resolve("data"), o.intParam("fortunes", 8, 16), 160,
        o.intParam("facts", 3, 5), o.doubleParam("corrupt", 0.15, 0.1), o.intParam("vocab", QUICK.vocab(), FULL.vocab()),
        o.seed());
    int permutations = o.intParam("shapley.permutations", 4, 12);
    Map<String, String> defaults = new LinkedHashMap<>();
    defaults.put("train.optimizer", "sgd");
    defaults.put("train.learning-rate", "0.5");
    defaults.put("train.schedule", "constant");
    defaults.put("train.warmup-steps", "0");
    defaults.put("train.batch-size", "8");
    defaults.put("extract.projection.enabled", "false");
    defaults.put("shapley.permutations", String.valueOf(permutations));
    defaults.put("shapley.round", String.valueOf(Math.min(32, permutations)));
    defaults.put("ihvp.cg.tolerance", "1e-6");
    if (!o.quick()) {   // the measured full run (README): at damping 0.01 CG had not converged after 25 min
      defaults.put("ihvp.damping.value", "0.1");
      defaults.put("ihvp.cg.max-iterations", "150");
    }
    defaults.put("self-influence.normalize", "per-token");
    Path out = o.workDir().resolve("out");
    InfluenceSettings s = BenchPipeline.settings(o, QUICK, FULL, out, data, defaults);
    TrainJob.Result trained = BenchPipeline.train(s, line -> System.err.println("[compare] " + line));
    Map<String, Double> seconds = new LinkedHashMap<>();
    seconds.put("train", since(t0));

    Map<String, Map<String, Map<String, Double>>> scores = new LinkedHashMap<>();
    Map<String, Map<String, Double>> clean = new LinkedHashMap<>();
    SparkSession spark = Sessions.create(s.spark());
    try {
      long t = System.nanoTime();
      Stages.extract(spark, s);
      seconds.put("extract", since(t));
      for (String m : METHODS.keySet()) {
        if (m.equals("bm25")) {
          continue;
        }
        t = System.nanoTime();
        if (m.equals("ekfac")) {
          Stages.fitEkfac(spark, s);
        }
        InfluenceSettings c = s.with("score.folder", "scores-" + m);
        String method = m;
        if (m.equals("tracin")) {
          c = c.with("score.gradients", "raw");   // the default (auto) is unit for TracIn: that is the next row
        } else if (m.equals("tracin-unit")) {
          c = c.with("score.gradients", "unit");
          method = "tracin";
        }
        scores.put(m, BenchPipeline.scores(spark, c, method));
        seconds.put(m, since(t));
        System.err.printf(Locale.ROOT, "[compare] %s scored in %.1f s%n", m, seconds.get(m));
      }
      for (String m : List.of("tracin", "ekfac", "representer")) {
        t = System.nanoTime();
        clean.put(m, BenchPipeline.selfInfluence(spark, s, m));
        seconds.put("self-influence-" + m, since(t));
      }
    } finally {
      spark.stop();
    }
    scores.put("bm25", PlantedFactsTask.bm25(data));
    clean.put("tmc-shapley", lowestMeanValueFirst(scores.get("tmc-shapley")));

    long t = System.nanoTime();
    List<String> ids = new ArrayList<>(data.texts().keySet());
    List<Queries.Query> queries = data.queryList();
    Counterfactuals truth = Counterfactuals.of(trained, s.train(), new ArrayList<>(data.texts().values()), queries);
    double[][] loo = truth.leaveOneOut(line -> System.err.println("[compare] " + line));
    seconds.put("retrain-loo", since(t));
    t = System.nanoTime();
    int n = ids.size();
    int models = o.intParam("lds.models", 5, 10);
    double fraction = o.doubleParam("lds.fraction", 0.5, 0.5);
    int kept = (int) Math.round(fraction * n);
    int top = Math.min(o.intParam("loo.top", 8, 10), n);
    if (models < 3 || kept < 1 || kept >= n || top < 3) {
      throw new IllegalArgumentException("-P lds.models=" + models + " must be >= 3, -P lds.fraction=" + fraction
          + " must keep 1.." + (n - 1) + " of " + n + " sequences and -P loo.top=" + top + " must be >= 3");
    }
    Counterfactuals.Subsets subsets = truth.subsets(models, kept, new Random(o.seed() + 17),
        o.workDir().resolve("subsets"), line -> System.err.println("[compare] " + line));
    seconds.put("retrain-lds", since(t));

    BenchResult.Builder result = BenchResult.of(name());
    Map<String, Map<String, Double>> table = new LinkedHashMap<>();
    List<String> undefined = new ArrayList<>();
    List<String> corrupted = new ArrayList<>(data.corrupted().keySet());
    List<String> uncorrupted = ids.stream().filter(id -> !data.corrupted().containsKey(id)).toList();
    for (String m : METHODS.keySet()) {
      double[][] score = matrix(scores.get(m), queries, ids, m);
      Map<String, Double> row = new LinkedHashMap<>();
      double[] perQuery = new double[queries.size()];
      for (int q = 0; q < perQuery.length; q++) {
        perQuery[q] = topPearson(score[q], loo[q], top);
      }
      row.put("loo_pearson", finiteMean(perQuery, m + " loo", undefined));
      double[] lds = new double[queries.size()];
      for (int q = 0; q < lds.length; q++) {
        double[] predicted = new double[models];
        for (int k = 0; k < models; k++) {
          predicted[k] = -LeaveOneOutTask.sumKept(score[q], subsets.kept()[k]);
        }
        lds[q] = correlation(predicted, subsets.losses()[q], true);
      }
      row.put("lds_spearman", finiteMean(lds, m + " lds", undefined));
      double[] facts = PlantedFactsTask.figures(m, scores.get(m), data, Set.of("verbatim", "paraphrased"));
      row.put("facts_recall@1", facts[0]);
      row.put("facts_mrr", facts[2]);
      Map<String, Double> self = clean.get(m);
      if (self != null) {
        List<String> ranking = RankingMetrics.ranking(self);
        row.put("clean_auc", RankingMetrics.auc(self, corrupted, uncorrupted));
        row.put("clean_found@top10%", RankingMetrics.foundInTop(ranking, corrupted, 0.10));
      }
      table.put(m, row);
      row.forEach((k, v) -> result.metric(m + "." + k, v));
    }
    seconds.forEach((k, v) -> result.metric("seconds." + k, v));

    long shuffled = data.corrupted().values().stream().filter(BenchCorpus.SHUFFLED::equals).count();
    result.note(String.format(Locale.ROOT, "corpus: %d sequences (fortunes + planted statements of %d facts), %d "
            + "corrupted (%d shuffled, %d contradictions); %d queries (verbatim and paraphrased per fact); seed %d",
        n, data.facts().size(), corrupted.size(), shuffled, corrupted.size() - shuffled, queries.size(), o.seed()));
    result.note(BenchPipeline.describe(s, trained) + "; plain SGD, rate " + s.train().learningRate() + ", batch "
        + s.train().batchSize());
    result.note(String.format(Locale.ROOT, "loo: per query, Pearson over its %d largest-|score| sequences of score "
        + "vs the actual change of its completion loss when the run is repeated without the sequence (%d "
        + "retrainings, same seeds and batch order); lds: Spearman over %d models trained on random %.0f%% subsets; "
        + "means over the %d queries", top, n, models, 100 * fraction, queries.size()));
    result.note("cg: ihvp.cg.tolerance " + s.ihvp().cg().tolerance() + ", damping " + s.ihvp().damping().words()
        + "; ekfac: damping " + s.ekfac().dampingWords() + "; self-influence (tracin, ekfac) per predicted token (self-influence.normalize = per-token: the summed one "
        + "grows with length and hides the short contradictions)");
    result.note("tmc-shapley: " + permutations + " permutations (shapley.permutations), players = sequences; its "
        + "cleaning figure ranks the lowest mean value over the queries first");
    if (!undefined.isEmpty()) {
      result.note("queries skipped (constant scores or changes): " + String.join("; ", undefined));
    }
    String printed = table(table);
    System.err.print(printed);
    printed.lines().forEach(result::note);
    return result.build();
  }

  /** The comparison table: a row per method, "—" (with the reason below the table) where a figure does not apply. */
  static String table(Map<String, Map<String, Double>> rows) {
    List<String> columns = List.of("loo_pearson", "lds_spearman", "facts_recall@1", "facts_mrr", "clean_auc",
        "clean_found@top10%");
    StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-14s", "method"));
    columns.forEach(c -> sb.append(String.format(Locale.ROOT, " %18s", c)));
    sb.append('\n');
    for (Map.Entry<String, Map<String, Double>> r : rows.entrySet()) {
      sb.append(String.format(Locale.ROOT, "%-14s", r.getKey()));
      for (String c : columns) {
        Double v = r.getValue().get(c);
        sb.append(String.format(Locale.ROOT, " %18s", v == null ? "—" : BenchSuite.number(v)));
      }
      sb.append('\n');
    }
    rows.keySet().stream().filter(NO_CLEANING::containsKey)
        .forEach(m -> sb.append("— ").append(m).append(" cleaning: ").append(NO_CLEANING.get(m)).append('\n'));
    return sb.toString();
  }

  /** {@code [query][train]} in the order of {@code queries} and {@code ids}; every pair must be scored. */
  private static double[][] matrix(Map<String, Map<String, Double>> byQuery, List<Queries.Query> queries,
                                   List<String> ids, String method) {
    double[][] out = new double[queries.size()][ids.size()];
    for (int q = 0; q < out.length; q++) {
      Map<String, Double> row = byQuery.get(queries.get(q).id());
      for (int i = 0; i < ids.size(); i++) {
        Double v = row == null ? null : row.get(ids.get(i));
        if (v == null) {
          throw new IllegalStateException(method + " gave no score of " + ids.get(i) + " for query "
              + queries.get(q).id());
        }
        out[q][i] = v;
      }
    }
    return out;
  }

  /** Pearson of score and actual change over the {@code top} sequences of largest |score|; NaN when undefined. */
  static double topPearson(double[] score, double[] actual, int top) {
    int[] chosen = IntStream.range(0, score.length).boxed()
        .sorted(Comparator.comparingDouble((Integer i) -> -Math.abs(score[i])).thenComparing(i -> i))
        .limit(top).mapToInt(Integer::intValue).toArray();
    return correlation(Arrays.stream(chosen).mapToDouble(i -> score[i]).toArray(),
        Arrays.stream(chosen).mapToDouble(i -> actual[i]).toArray(), false);
  }

  private static double correlation(double[] x, double[] y, boolean ranks) {
    try {
      return ranks ? Stats.spearman(x, y) : Stats.pearson(x, y);
    } catch (IllegalArgumentException constant) {
      return Double.NaN;
    }
  }

  private static double finiteMean(double[] v, String what, List<String> undefined) {
    long skipped = Arrays.stream(v).filter(x -> !Double.isFinite(x)).count();
    if (skipped > 0) {
      undefined.add(what + ": " + skipped + " of " + v.length);
    }
    return Arrays.stream(v).filter(Double::isFinite).average().orElse(Double.NaN);
  }

  /** Train id → minus its mean Shapley value over the queries (the least valuable first). */
  private static Map<String, Double> lowestMeanValueFirst(Map<String, Map<String, Double>> byQuery) {
    Map<String, Double> out = new LinkedHashMap<>();
    for (Map<String, Double> row : byQuery.values()) {
      row.forEach((id, v) -> out.merge(id, -v / byQuery.size(), Double::sum));
    }
    return out;
  }

  private static double since(long start) {
    return (System.nanoTime() - start) / 1e9;
  }
}
