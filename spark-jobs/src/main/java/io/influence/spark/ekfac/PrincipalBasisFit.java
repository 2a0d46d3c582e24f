package io.influence.spark.ekfac;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.grad.TokenFactors;
import io.influence.core.model.CausalLm;
import io.influence.core.model.GradientRequest;
import io.influence.core.model.KroneckerProjection;
import io.influence.ekfac.PrincipalSubspace;
import io.influence.spark.extract.ExecutorModels;
import io.influence.spark.io.Runs;
import io.influence.spark.progress.Progress;
import io.influence.spark.progress.ProgressCounter;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Fits the principal Kronecker projection of one checkpoint ({@code extract.projection.basis = principal}) by
 * randomised subspace iteration ({@link PrincipalSubspace}) over the given {@code (id, tokens)} rows: each pass is
 * one Spark job whose tasks push the rows through the model (observed labels) and add {@code aᵀ(a Q)} and
 * {@code gᵀ(g Q)} per layer; the driver orthonormalises between passes and takes the Ritz vectors after the last.
 * Nothing of size {@code d × d} is formed: each side keeps {@code d × min(d, 2k)} values.
 */
public final class PrincipalBasisFit {

  /** Columns kept beyond {@code k} on each side: {@code m = min(d, 2k)}. */
  public static final int OVERSAMPLE_FACTOR = 1;
  /** Passes over the fit sample: three power steps, then the Rayleigh-Ritz step on the last product. */
  public static final int PASSES = 4;
  private static final long SEED = 0x5eed5eedL;

  private PrincipalBasisFit() {}

  /**
   * @param dims  each tracked layer's {@code {dIn, dOut}} (bias column included in dIn), in stored order
   * @param rows  the sequences to fit on, {@code (id, tokens)} (persisted by the caller: read once per pass)
   * @return layer to float32 projection, in {@code dims}' order
   */
  public static Map<String, KroneckerProjection> fit(SparkSession spark, JavaRDD<Row> rows, long count,
      RunCheckpoint c, String checkpoint, Map<String, int[]> dims, int kIn, int kOut, int batchSize) {
    PrincipalSubspace s = start(dims, kIn, kOut);
    int passes = passes(s);
    for (int p = 1; ; p++) {
      Broadcast<PrincipalSubspace> basis = spark.sparkContext().broadcast(s,
          scala.reflect.ClassTag$.MODULE$.apply(PrincipalSubspace.class));
      PrincipalSubspace.Sums sums;
      try (Progress progress = Progress.start(spark.sparkContext(), "projection basis " + checkpoint + " (pass " + p
          + " of " + passes + ")", count)) {
        sums = rows.mapPartitions(new Pass(Runs.location(c), c.sha256(), basis, batchSize, progress.counter()))
            .treeReduce(PrincipalSubspace.Sums::merge, 2);
        progress.finish();
      } finally {
        basis.destroy();
      }
      if (p == passes) {
        return s.finish(sums, DataType.FLOAT);
      }
      s = s.next(sums);
    }
  }

  /** The seeded starting bases every fit begins from ({@code m = min(d, k + OVERSAMPLE_FACTOR · max(kIn, kOut))}). */
  public static PrincipalSubspace start(Map<String, int[]> dims, int kIn, int kOut) {
    return PrincipalSubspace.start(dims, kIn, kOut, OVERSAMPLE_FACTOR * Math.max(kIn, kOut), SEED);
  }

  /** Passes a fit from {@code s} makes: one when the bases span every side (then exact), else {@link #PASSES}. */
  public static int passes(PrincipalSubspace s) {
    return s.exactAfterOnePass() ? 1 : PASSES;
  }

  /** Values a task and the driver hold per copy of the bases and sums: {@code 2 Σ (dIn mIn + dOut mOut)}. */
  public static long values(Map<String, int[]> dims, int kIn, int kOut) {
    int over = OVERSAMPLE_FACTOR * Math.max(kIn, kOut);
    long v = 0;
    for (int[] d : dims.values()) {
      v += (long) d[0] * Math.min(d[0], kIn + over) + (long) d[1] * Math.min(d[1], kOut + over);
    }
    return 2 * v;
  }

  /** One pass of one task: the partition's rows through the model, their token factors into fresh sums. */
  static final class Pass implements FlatMapFunction<Iterator<Row>, PrincipalSubspace.Sums> {
    private static final long serialVersionUID = 1L;
    private final String dir;
    private final String sha256;
    private final Broadcast<PrincipalSubspace> basis;
    private final int batchSize;
    private final ProgressCounter done;

    Pass(String dir, String sha256, Broadcast<PrincipalSubspace> basis, int batchSize, ProgressCounter done) {
      this.dir = dir;
      this.sha256 = sha256;
      this.basis = basis;
      this.batchSize = batchSize;
      this.done = done;
    }

    @Override
    public Iterator<PrincipalSubspace.Sums> call(Iterator<Row> rows) {
      CausalLm model = ExecutorModels.model(dir, sha256);
      PrincipalSubspace s = basis.value();
      List<String> names = s.layerNames();
      PrincipalSubspace.Sums sums = s.sums();
      GradientRequest request = GradientRequest.perExampleTokenFactors().withTrackedLayers(names);
      TokenRowBatches.forEach(rows, model, request, List.of(GradientRequest.Labels.OBSERVED), batchSize, done,
          (ids, g, weight) -> {
            for (int i = 0; i < ids.size(); i++) {
              Map<String, TokenFactors> f = g.tokenFactors().get(i);
              for (String layer : names) {
                s.add(sums, f.get(layer));
              }
            }
          });
      return List.of(s.sums().merge(sums)).iterator();   // a snapshot: no pending arrays in the task's result
    }
  }

  /** Each layer's {@code {dIn, dOut}} from the model, in the given order. */
  public static Map<String, int[]> dims(CausalLm model, List<String> layers) {
    Map<String, int[]> out = new LinkedHashMap<>();
    for (String l : layers) {
      int[] shape = model.linearShape(l);
      out.put(l, new int[] {shape[1], shape[0]});
    }
    return out;
  }
}
