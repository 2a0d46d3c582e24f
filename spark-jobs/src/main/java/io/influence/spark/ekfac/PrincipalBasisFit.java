package io.influence.spark.ekfac;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.model.GradientRequest;
import io.influence.core.model.KroneckerProjection;
import io.influence.ekfac.PrincipalProjection;
import io.influence.spark.io.Runs;
import io.influence.spark.progress.Progress;
import io.influence.spark.store.StoreMetadata;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Fits the principal Kronecker projection of one checkpoint ({@code extract.projection.basis = principal}): the
 * covariance pass of fit-ekfac ({@link CovarianceTask}, observed labels) over the given {@code (id, tokens)} rows on
 * full-size token factors, then each layer's top eigenvectors ({@link PrincipalProjection}) on the driver.
 */
public final class PrincipalBasisFit {

  private PrincipalBasisFit() {}

  /**
   * @param full  the checkpoint's tracked layers at full size ({@code projection = full}), in stored order
   * @param rows  the sequences to fit on, {@code (id, tokens)}
   * @return layer to float32 projection, in {@code full}'s order
   */
  public static Map<String, KroneckerProjection> fit(SparkSession spark, JavaRDD<Row> rows, long count,
      RunCheckpoint c, StoreMetadata full, int kIn, int kOut, int batchSize) {
    if (!StoreMetadata.FULL.equals(full.projection())) {
      throw new IllegalArgumentException("the principal basis is fitted on full-size token factors, got a "
          + full.projection() + " layout");
    }
    CovarianceTask.Sums sums;
    try (Progress progress = Progress.start(spark.sparkContext(), "projection basis " + full.checkpoint(), count)) {
      sums = rows.mapPartitions(new CovarianceTask(Runs.location(c), c.sha256(), full, batchSize,
          List.of(GradientRequest.Labels.OBSERVED), progress.counter())).treeReduce(CovarianceTask.Sums::merge, 2);
      progress.finish();
    }
    Map<String, KroneckerProjection> out = new LinkedHashMap<>();
    for (StoreMetadata.Layer l : full.layers()) {
      out.put(l.name(), PrincipalProjection.of(sums.byLayer().get(l.name()).finish(), kIn, kOut, DataType.FLOAT));
    }
    return out;
  }
}
