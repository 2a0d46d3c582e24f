package io.influence.spark.ekfac;

import io.influence.core.model.CausalLm;
import io.influence.core.model.GradientRequest;
import io.influence.core.model.KroneckerProjection;
import io.influence.spark.extract.ExecutorModels;
import io.influence.spark.progress.ProgressCounter;
import io.influence.spark.store.StoreMetadata;
import io.influence.spark.store.StoreProjections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.Row;
import org.nd4j.linalg.api.ndarray.INDArray;

/*
 * One task of the true-Fisher eigenvalue correction: the partition's (id, tokens) rows in batches through the
 * checkpoint's model, per-example gradients against sampled labels in the store's space (the store's layers, and
 * its Kronecker projection when it has one: the same seeded matrices extract uses), added to a copy of the
 * correction accumulators. The stored gradients cannot serve here: they were taken against the observed labels.
 */
final class SampledCorrectionTask implements FlatMapFunction<Iterator<Row>, Corrections> {

  private static final long serialVersionUID = 1L;

  private final String dir;
  private final String sha256;
  private final List<StoreMetadata.Layer> layers;
  private final StoreMetadata meta;
  private final Corrections zero;
  private final int batchSize;
  private final List<GradientRequest.Labels> draws;
  private final ProgressCounter done;

  SampledCorrectionTask(String dir, String sha256, StoreMetadata meta, Corrections zero, int batchSize,
      List<GradientRequest.Labels> draws, ProgressCounter done) {
    this.dir = dir;
    this.sha256 = sha256;
    this.layers = List.copyOf(meta.layers());
    meta.requireUnpreconditioned("EK-FAC with sampled labels");
    this.meta = meta;
    this.zero = zero;
    this.batchSize = batchSize;
    this.draws = List.copyOf(draws);
    this.done = done;
  }

  @Override
  public Iterator<Corrections> call(Iterator<Row> rows) {
    CausalLm model = ExecutorModels.model(dir, sha256);
    List<String> names = layers.stream().map(StoreMetadata.Layer::name).toList();
    Map<String, KroneckerProjection> projections = StoreProjections.of(meta, model::linearShape,
        model.dataType());
    GradientRequest request = (projections.isEmpty() ? GradientRequest.perExampleFull().withTrackedLayers(names)
        : GradientRequest.perExampleProjected(projections).withTrackedLayers(names));
    Corrections working = zero;   // this task's own deserialised copy
    TokenRowBatches.forEach(rows, model, request, draws, batchSize, done, (ids, g, weight) -> {
      List<Map<String, INDArray>> perExample = projections.isEmpty() ? g.fullPerExample() : g.projectedPerExample();
      for (int i = 0; i < ids.size(); i++) {
        for (String layer : names) {
          working.add(layer, perExample.get(i).get(layer), weight, ids.get(i));
        }
      }
    });
    return List.of(working).iterator();
  }
}
