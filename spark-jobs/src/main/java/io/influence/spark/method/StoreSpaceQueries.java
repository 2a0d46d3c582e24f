package io.influence.spark.method;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.tracin.ExampleGradient;
import io.influence.spark.extract.ExtractJob;
import io.influence.spark.score.QueryGradient;
import io.influence.spark.store.GradientStore;
import io.influence.spark.store.StoreMetadata;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Query gradients in the store's space at each checkpoint, each passed through that checkpoint's preconditioner. */
final class StoreSpaceQueries {

  private StoreSpaceQueries() {}

  static Preconditioned collect(SparkSession spark, ScoringInputs in, List<RunCheckpoint> checkpoints,
      Function<StoreMetadata, UnaryOperator<Map<String, INDArray>>> preconditionerAt) {
    List<List<Map<String, INDArray>>> perQuery = new ArrayList<>();
    in.queries().forEach(q -> perQuery.add(new ArrayList<>()));
    for (RunCheckpoint c : checkpoints) {
      StoreMetadata meta = GradientStore.metadata(spark, in.store(), ExtractJob.checkpointName(c));
      UnaryOperator<Map<String, INDArray>> p = preconditionerAt.apply(meta);
      List<ExampleGradient> g = QueryGradients.projected(in.queries(), c, meta);
      for (int i = 0; i < g.size(); i++) {
        perQuery.get(i).add(p.apply(g.get(i).layers()));
      }
    }
    List<QueryGradient> out = new ArrayList<>();
    for (int i = 0; i < in.queries().size(); i++) {
      out.add(QueryGradient.ofArrays(in.queries().get(i).id(), perQuery.get(i)));
    }
    return new Preconditioned(out, null);
  }
}
