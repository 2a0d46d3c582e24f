package io.influence.bench;

import io.influence.core.score.Stats;
import io.influence.spark.config.BlasThreads;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.Sessions;
import io.influence.spark.pipeline.Stages;
import io.influence.spark.train.TrainJob;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.spark.sql.SparkSession;

/**
 * Projection fidelity: how closely scores computed from Kronecker-projected gradients (extract.projection,
 * {@code k × k} per layer) follow the same method's scores from full gradients. A GPT-2 is trained by our trainer on the
 * planted-facts corpus ({@link BenchCorpus}); for each rank k of {@code ranks} and for full gradients the real
 * pipeline ({@link Stages}: extract, fit-ekfac, score on local Spark) scores every query against every training
 * sequence with each method of {@code methods}, each with the engine's defaults otherwise (TracIn: the default
 * {@code score.gradients}, i.e. unit-normalised; EK-FAC: raw). The truth is the full-gradient output of the same
 * method. Per method and rank, averaged over queries:
 * <ul>
 *   <li>{@code overlap@10}: |projected top-10 ∩ full top-10| / 10;</li>
 *   <li>{@code spearman} and {@code pearson} of the projected scores of every training sequence against the full
 *       ones;</li>
 *   <li>{@code rerank@M}: the two-stage answer (projected top-M, reranked by the full-gradient scores), whose top-10
 *       overlap with the full top-10 is |projected top-M ∩ full top-10| / 10, for each M of {@code rerank};</li>
 * </ul>
 * and per rank the store's bytes on disk ({@code gradients/}, every checkpoint) and the seconds of extract,
 * fit-ekfac and each score.
 *
 * <p>Each rank runs with each basis of {@code bases}: {@code random} (seeded Gaussian, folders {@code rank-K}) and
 * {@code principal} ({@code extract.projection.basis = principal}, folders {@code principal-K}).
 *
 * <p>Flags ({@code -P}): {@code bases} (comma list; random,principal), {@code ranks} (comma list; quick 4,16, full 8,16,32,64: at width 64 no k can exceed the
 * smallest layer's 64 outputs and 65 inputs, extract refuses it), {@code methods} (quick tracin,
 * full tracin,ekfac), {@code rerank} (comma list of M; 20,50), {@code fortunes} (quick 12, full 80), {@code facts}
 * (quick 6, full 24), the model sizes of {@link BenchPipeline} (full: the engine's default model, GPT-2 2 layers ×
 * 64, BPE 512, 400 steps, 4 checkpoints), {@code set.KEY=VALUE} for any engine setting.
 */
final class ProjectionTask implements BenchTask {

  static final BenchPipeline.Sizes QUICK = new BenchPipeline.Sizes(300, 16, 1, 2, 30, 2);
  static final BenchPipeline.Sizes FULL = new BenchPipeline.Sizes(512, 64, 2, 2, 400, 4);

  /** The output folder of {@code rank} (0 = full gradients) under the task's work folder. */
  static String folder(int rank) {
    return rank == 0 ? "full" : "rank-" + rank;
  }

  /** The output folder of {@code rank} with the principal basis. */
  static String principalFolder(int rank) {
    return "principal-" + rank;
  }

  /** The score folder of {@code method} in every rank's output. */
  static String scoreFolder(String method) {
    return "scores-" + method;
  }

  @Override
  public String name() {
    return "projection";
  }

  @Override
  public String kind() {
    return "quality";
  }

  @Override
  public String description() {
    return "top-10 overlap, Spearman and two-stage rerank recall of Kronecker-projected TracIn / EK-FAC scores against "
        + "the same method on full gradients, per projection rank, with store bytes and times";
  }

  @Override
  public BenchResult run(BenchOptions o) throws Exception {
    try (BlasThreads threads = BlasThreads.set(o.intParam("threads", 1, 1))) {
      return measure(o);
    }
  }

  private BenchResult measure(BenchOptions o) {
    BenchResult.Builder result = BenchResult.of(name());
    BenchCorpus.Written data = BenchCorpus.write(o.workDir().resolve("data"), o.intParam("fortunes", 12, 80), 160,
        o.intParam("facts", 6, BenchFacts.ALL.size()), 0, o.intParam("vocab", QUICK.vocab(), FULL.vocab()), o.seed());
    List<Integer> ranks = ints(o.param("ranks", o.quick() ? "4,16" : "8,16,32,64"));
    List<Integer> rerank = ints(o.param("rerank", "20,50"));
    List<String> methods = List.of(o.param("methods", o.quick() ? "tracin" : "tracin,ekfac").split(","));
    List<String> bases = List.of(o.param("bases", "random,principal").split(","));
    int n = data.texts().size();
    int k = Math.min(10, n);
    InfluenceSettings base = BenchPipeline.settings(o, QUICK, FULL, o.workDir().resolve(folder(0)), data);
    long t0 = System.nanoTime();
    TrainJob.Result trained = BenchPipeline.train(base, line -> System.err.println("[projection] " + line));
    result.metric("seconds.train", since(t0));

    // output folders: each rank per basis (random ranks r > 0, principal ones -r), and full gradients (0)
    List<Integer> all = new ArrayList<>();
    if (bases.contains("random")) {
      all.addAll(ranks);
    }
    if (bases.contains("principal")) {
      ranks.forEach(r -> all.add(-r));
    }
    all.add(0);
    // method → rank → query → train → score
    Map<String, Map<Integer, Map<String, Map<String, Double>>>> scores = new LinkedHashMap<>();
    SparkSession spark = Sessions.create(base.spark());
    try {
      for (int r : all) {
        int rank = Math.abs(r);
        InfluenceSettings s = r == 0 ? base.with("extract.projection.enabled", false)
            : base.with("output.dir", o.workDir().resolve(label(r)).toString())
                .with("extract.projection.k-in", rank).with("extract.projection.k-out", rank)
                .with("extract.projection.basis", r < 0 ? "principal" : "random");
        long t = System.nanoTime();
        Stages.extract(spark, s);
        result.metric("seconds.extract." + label(r), since(t));
        result.metric("bytes.store." + label(r), io.influence.spark.plan.Planner.folderBytes(Path.of(s.output().dir()).resolve("gradients")));
        if (methods.contains("ekfac")) {
          t = System.nanoTime();
          Stages.fitEkfac(spark, s);
          result.metric("seconds.fit-ekfac." + label(r), since(t));
        }
        for (String m : methods) {
          t = System.nanoTime();
          scores.computeIfAbsent(m, x -> new LinkedHashMap<>())
              .put(r, BenchPipeline.scores(spark, s.with("score.folder", scoreFolder(m)), m));
          result.metric("seconds.score-" + m + "." + label(r), since(t));
        }
      }
    } finally {
      spark.stop();
    }

    for (String m : methods) {
      Map<String, Map<String, Double>> full = scores.get(m).get(0);
      for (int r : all) {
        if (r == 0) {
          continue;
        }
        Map<String, Map<String, Double>> projected = scores.get(m).get(r);
        double overlap = 0;
        double spearman = 0;
        double pearson = 0;
        double[] reranked = new double[rerank.size()];
        for (Map.Entry<String, Map<String, Double>> q : full.entrySet()) {
          Map<String, Double> truth = q.getValue();
          Map<String, Double> got = projected.get(q.getKey());
          if (got == null || got.size() != n || truth.size() != n) {
            throw new IllegalStateException(m + " at " + label(r) + " ranked " + (got == null ? 0 : got.size())
                + " of " + n + " training sequences for query " + q.getKey());
          }
          List<String> want = RankingMetrics.ranking(truth).subList(0, k);
          List<String> ranking = RankingMetrics.ranking(got);
          overlap += overlap(want, ranking, k);
          for (int i = 0; i < rerank.size(); i++) {
            reranked[i] += overlap(want, ranking, Math.min(rerank.get(i), n));
          }
          double[] x = new double[n];
          double[] y = new double[n];
          int i = 0;
          for (Map.Entry<String, Double> e : truth.entrySet()) {
            x[i] = e.getValue();
            y[i++] = got.get(e.getKey());
          }
          spearman += Stats.spearman(x, y);
          pearson += Stats.pearson(x, y);
        }
        int nq = full.size();
        String at = "." + label(r);
        result.metric(m + ".overlap@" + k + at, overlap / nq);
        result.metric(m + ".spearman" + at, spearman / nq);
        result.metric(m + ".pearson" + at, pearson / nq);
        for (int i = 0; i < rerank.size(); i++) {
          result.metric(m + ".rerank@" + rerank.get(i) + at, reranked[i] / nq);
        }
      }
    }
    result.note(String.format(Locale.ROOT, "corpus: %d sequences (fortunes + planted facts), %d queries; truth: each "
        + "method on full gradients (extract.projection.enabled = false), every query against every sequence; seed %d",
        n, data.queryList().size(), o.seed()));
    result.note(BenchPipeline.describe(base, trained).replaceFirst("; gradients projected.*", "")
        + "; ranks k x k per layer: " + ranks + ", bases " + bases + " (rank-K: seeded Gaussian; principal-K: "
        + "extract.projection.basis = principal, the top eigenvectors of each layer's covariances)");
    result.note("overlap@" + k + ": |projected top-" + k + " ∩ full top-" + k + "| / " + k + "; rerank@M: projected "
        + "top-M reranked by the full scores (its top-" + k + " overlap); spearman/pearson over every sequence; "
        + "tracin with the default score.gradients (auto: unit for tracin), ekfac raw, ekfac.checkpoints = "
        + io.influence.spark.config.Choices.word(base.ekfac().checkpoints()));
    result.note("bytes.store: the gradient store on disk (Parquet, every checkpoint); seconds on local Spark, "
        + MachineLoad.now());
    return result.build();
  }

  /** The folder and metric suffix of output {@code r}: random rank r > 0, principal rank -r, full 0. */
  private static String label(int r) {
    return r < 0 ? principalFolder(-r) : folder(r);
  }

  /** |want ∩ ranking's first m| / |want|. */
  static double overlap(List<String> want, List<String> ranking, int m) {
    Set<String> top = new HashSet<>(ranking.subList(0, m));
    return want.stream().filter(top::contains).count() / (double) want.size();
  }

  private static List<Integer> ints(String list) {
    List<Integer> out = new ArrayList<>();
    for (String s : list.split(",")) {
      int v = Integer.parseInt(s.trim());
      if (v < 1) {
        throw new IllegalArgumentException("bench projection: " + list + " holds " + v + "; HINT: positive integers");
      }
      out.add(v);
    }
    return out;
  }


  private static double since(long start) {
    return (System.nanoTime() - start) / 1e9;
  }
}
