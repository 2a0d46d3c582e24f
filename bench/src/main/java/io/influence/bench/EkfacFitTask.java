package io.influence.bench;

import io.influence.checkpoints.TrainingRun;
import io.influence.spark.config.BadRows;
import io.influence.spark.config.LongText;
import io.influence.spark.config.BlasThreads;
import io.influence.spark.ekfac.FitEkfacJob;
import io.influence.spark.ekfac.FitEkfacSpec;
import io.influence.spark.extract.ExtractSpec;
import io.influence.spark.io.Corpus;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.apache.spark.sql.SparkSession;

/**
 * EK-FAC fit time against one extraction pass over the same corpus and store: extract (projected
 * {@code k × k}), then {@link FitEkfacJob#run} (covariance pass, eigendecomposition, eigenvalue correction
 * over the stored gradients), both on {@code local[cores]} with one BLAS thread per task, after a small
 * warm-up extraction in the same session.
 *
 * <p>Keys: {@code -P rows=N} (quick 128, full 2000), {@code proj} (projection per side, 16), and the model sizes
 * of {@link ExtractBench.ModelSize}.
 */
final class EkfacFitTask implements BenchTask {

  @Override
  public String name() {
    return "ekfac-fit";
  }

  @Override
  public String kind() {
    return "speed";
  }

  @Override
  public String description() {
    return "EK-FAC fit time (covariances, eigendecomposition, eigenvalue correction) vs one extraction pass";
  }

  @Override
  public BenchResult run(BenchOptions o) throws Exception {
    ExtractBench.ModelSize m = ExtractBench.ModelSize.of(o);
    int rows = o.intParam("rows", 128, 2000);
    int k = o.intParam("proj", 16, 16);
    int slots = BlasThreads.cores();
    TrainingRun run = ExtractBench.randomRun(o.workDir(), m, o.seed());
    Path corpus = ExtractBench.corpus(o.workDir(), rows, m, o.seed());
    Path store = o.workDir().resolve("store");
    BenchResult.Builder b = BenchResult.of(name());
    b.note(MachineLoad.now() + " at start");
    b.note(String.format(Locale.ROOT, "%s; %d rows, projection %dx%d (EK-FAC in the projected space); local[%d], 1"
        + " BLAS thread per task", m.describe(), rows, k, k, slots));
    SparkSession spark = BenchSpark.session("local[" + slots + "]");
    try (BlasThreads t = BlasThreads.set(1)) {
      ExtractBench.extract(spark, ExtractBench.corpus(o.workDir(), 64, m, o.seed() + 1), run,
          o.workDir().resolve("warm"), k, 64);
      ExtractBench.Timing extract = ExtractBench.extract(spark, corpus, run, store, k, rows);
      FitEkfacSpec spec = new FitEkfacSpec(Corpus.read(spark, corpus), run, List.of("step-1"), store,
          o.workDir().resolve("factors"), 16, 0, BadRows.FAIL, LongText.WINDOWS);
      long t0 = System.nanoTime();
      FitEkfacJob.Result fit = FitEkfacJob.run(spark, spec);
      double fitSeconds = (System.nanoTime() - t0) / 1e9;
      if (!fit.written().equals(List.of("step-1"))) {
        throw new IllegalStateException("the bench fit wrote " + fit.written() + "; expected [step-1]");
      }
      b.metric("extract_seconds", extract.seconds());
      b.metric("fit_seconds", fitSeconds);
      b.metric("fit_over_extract", fitSeconds / extract.seconds());
      b.metric("extract_rows_per_s", extract.rowsPerS());
    } finally {
      spark.stop();
    }
    b.note("the fit makes one forward/backward pass for the covariances and one pass over the stored gradients;"
        + " no target was set for this ratio");
    b.note(MachineLoad.now() + " at end");
    return b.build();
  }
}
