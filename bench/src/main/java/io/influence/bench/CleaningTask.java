package io.influence.bench;

import io.influence.spark.config.BlasThreads;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.Sessions;
import io.influence.spark.pipeline.Stages;
import io.influence.spark.train.TrainJob;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.sql.SparkSession;

/**
 * Data cleaning: a fraction of the corpus (5% by default) is corrupted, half by shuffling a fortune's BPE tokens
 * and half by statements that contradict a planted fact ({@link BenchCorpus}); the model is trained on the corrupted
 * corpus, and every sequence is ranked by self-influence (TracIn {@code Σ_i η_i ‖g_i‖²} and EK-FAC
 * {@code Σ_i ⟨g_i, (H_i + λI)⁻¹ g_i⟩}, the real pipeline on local Spark). Figures per method, overall and per
 * kind of corruption: the fraction of corrupted sequences found in the top 10% and top 20% of the ranking, and
 * the ROC AUC of corrupted against clean sequences.
 *
 * <p>Flags ({@code -P}): {@code corrupt} (fraction, 0.05), {@code fortunes} (quick 80, full 0 = all 430),
 * {@code facts} (24), and the model sizes of {@link BenchPipeline}.
 */
final class CleaningTask implements BenchTask {

  static final BenchPipeline.Sizes QUICK = PlantedFactsTask.QUICK;
  static final BenchPipeline.Sizes FULL = PlantedFactsTask.FULL;

  @Override
  public String name() {
    return "cleaning";
  }

  @Override
  public String kind() {
    return "quality";
  }

  @Override
  public String description() {
    return "corrupted sequences (shuffled tokens, statements contradicting planted facts) found by self-influence: "
        + "share in the top 10% / 20% and AUC, TracIn and EK-FAC";
  }

  @Override
  public BenchResult run(BenchOptions o) throws Exception {
    try (BlasThreads threads = BlasThreads.set(o.intParam("threads", 1, 1))) {
      return measure(o);
    }
  }

  private BenchResult measure(BenchOptions o) throws Exception {
    BenchResult.Builder result = BenchResult.of(name());
    double fraction = o.doubleParam("corrupt", 0.05, 0.05);
    BenchCorpus.Written data = BenchCorpus.write(o.workDir().resolve("data"), o.intParam("fortunes", 80, 0), 160,
        o.intParam("facts", BenchFacts.ALL.size(), BenchFacts.ALL.size()), fraction,
        o.intParam("vocab", QUICK.vocab(), FULL.vocab()), o.seed());
    if (data.corrupted().values().stream().distinct().count() < 2) {
      throw new IllegalArgumentException("only " + data.corrupted().size() + " corrupted sequences for a corpus of "
          + data.texts().size() + "; HINT: raise -P corrupt or -P fortunes so that each kind gets one");
    }
    Path out = o.workDir().resolve("out");
    InfluenceSettings s = BenchPipeline.settings(o, QUICK, FULL, out, data);
    long t0 = System.nanoTime();
    TrainJob.Result trained = BenchPipeline.train(s, line -> System.err.println("[cleaning] " + line));
    double trainSeconds = seconds(t0);

    Map<String, Map<String, Double>> self = new LinkedHashMap<>();
    Map<String, Double> stageSeconds = new LinkedHashMap<>();
    SparkSession spark = Sessions.create(s.spark());
    try {
      long t = System.nanoTime();
      Stages.extract(spark, s);
      stageSeconds.put("extract", seconds(t));
      t = System.nanoTime();
      Map<String, Double> tracin = BenchPipeline.selfInfluence(spark, s, "tracin");
      stageSeconds.put("self-influence-tracin", seconds(t));
      t = System.nanoTime();
      Stages.fitEkfac(spark, s);
      stageSeconds.put("fit-ekfac", seconds(t));
      // both methods per predicted token too (self-influence.normalize = per-token): the summed loss makes
      // self-influence grow with length, which hides short corrupted sequences. Run before the summed EK-FAC
      // pass so that the stage's output folder ends with the summed EK-FAC scores.
      InfluenceSettings perToken = s.with("self-influence.normalize", "per-token");
      Map<String, Map<String, Double>> perTokenScores = new LinkedHashMap<>();
      for (String method : List.of("tracin", "ekfac")) {
        t = System.nanoTime();
        perTokenScores.put(method + "-per-token", BenchPipeline.selfInfluence(spark, perToken, method));
        stageSeconds.put("self-influence-" + method + "-per-token", seconds(t));
      }
      t = System.nanoTime();
      Map<String, Double> ekfac = BenchPipeline.selfInfluence(spark, s, "ekfac");
      stageSeconds.put("self-influence-ekfac", seconds(t));
      self.put("tracin", tracin);
      self.put("ekfac", ekfac);
      self.putAll(perTokenScores);
    } finally {
      spark.stop();
    }
    stageSeconds.forEach((k, v) -> System.err.printf(Locale.ROOT, "[cleaning] %s: %.1f s%n", k, v));

    List<String> clean = data.texts().keySet().stream().filter(id -> !data.corrupted().containsKey(id)).toList();
    for (Map.Entry<String, Map<String, Double>> m : self.entrySet()) {
      if (m.getValue().size() != data.texts().size()) {
        throw new IllegalStateException(m.getKey() + " self-influence has " + m.getValue().size() + " rows for "
            + data.texts().size() + " training sequences");
      }
      List<String> ranking = RankingMetrics.ranking(m.getValue());
      for (String kind : List.of("all", BenchCorpus.SHUFFLED, BenchCorpus.CONTRADICTION)) {
        List<String> positives = data.corrupted().entrySet().stream()
            .filter(e -> kind.equals("all") || e.getValue().equals(kind)).map(Map.Entry::getKey).toList();
        String prefix = m.getKey() + "." + kind + ".";
        double top10 = RankingMetrics.foundInTop(ranking, positives, 0.10);
        if (kind.equals("all")) {
          result.atLeast(prefix + "found@top10%", top10, 0.8);
        } else {
          result.metric(prefix + "found@top10%", top10);
        }
        result.metric(prefix + "found@top20%", RankingMetrics.foundInTop(ranking, positives, 0.20));
        result.metric(prefix + "auc", RankingMetrics.auc(m.getValue(), positives, clean));
      }
    }
    result.metric("seconds.train", trainSeconds);
    stageSeconds.forEach((k, v) -> result.metric("seconds." + k, v));

    long shuffled = data.corrupted().values().stream().filter(BenchCorpus.SHUFFLED::equals).count();
    result.note(String.format(Locale.ROOT, "corpus: %d sequences (fortunes + planted statements of %d facts), %d "
            + "corrupted (%.1f%%): %d fortunes with shuffled BPE tokens, %d statements contradicting a planted fact; seed %d",
        data.texts().size(), data.facts().size(), data.corrupted().size(),
        100.0 * data.corrupted().size() / data.texts().size(), shuffled, data.corrupted().size() - shuffled, o.seed()));
    result.note(BenchPipeline.describe(s, trained));
    result.note("self-influence: the Spark pipeline's self-influence stage, tracin (Σ_i η_i ‖g_i‖²) and ekfac "
        + "(⟨g_i, (H_i + λI)⁻¹ g_i⟩ summed over checkpoints, damping " + s.ekfac().dampingWords() + ")");
    result.note("found@topX%: share of the corrupted sequences (of that kind) among the X% of the corpus with the "
        + "highest self-influence; auc: ROC AUC of those corrupted against the clean sequences");
    result.note("METHOD-per-token rows: the pipeline's self-influence.normalize = per-token (self-influence divided by "
        + "the sequence's predicted tokens); the others use the summed loss, which grows with length");
    return result.build();
  }

  private static double seconds(long start) {
    return (System.nanoTime() - start) / 1e9;
  }
}
