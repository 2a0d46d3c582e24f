package io.influence.spark.method;

import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.grad.AdamScaling;
import io.influence.core.grad.GradientExtractor;
import io.influence.core.model.BatchGradients;
import io.influence.core.model.CausalLm;
import io.influence.core.model.GradientRequest;
import io.influence.core.model.KroneckerProjection;
import io.influence.core.model.TokenBatch;
import io.influence.core.tokenizer.PromptCompletion;
import io.influence.core.tokenizer.Tokenizer;
import io.influence.core.tracin.ExampleGradient;
import io.influence.spark.extract.ExtractJob;
import io.influence.spark.io.Queries;
import io.influence.spark.store.OptimizerPreconditioning;
import io.influence.spark.store.StoreMetadata;
import io.influence.spark.store.StoreProjections;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Gradients of each query's completion tokens at one checkpoint, computed on the driver (queries are few): in the
 * gradient store's space (projected with the store's seeded projection, float32) for scoring, or full float64
 * {@code [dOut, dIn+1]} per layer (bias last: the layout of the curvature operators) for iterative solves.
 */
public final class QueryGradients {

  private static final int BATCH = 16;

  private QueryGradients() {}

  /**
   * Gradients in the store's space: what TracIn scores with and EK-FAC preconditions. A store of Adam-preconditioned
   * gradients gets queries divided by the same {@code √v̂ + ε} (the checkpoint's optimizer state, checked against the
   * sha256 the store recorded).
   */
  public static List<ExampleGradient> projected(List<Queries.Query> queries, RunCheckpoint c, StoreMetadata meta) {
    CausalLm model = load(c, DataType.FLOAT);
    Map<String, KroneckerProjection> projections = StoreProjections.of(meta, model::linearShape,
        DataType.FLOAT);
    List<PromptCompletion> t = encode(queries, c, model);
    AdamScaling adam = meta.optimizerPreconditioning() == OptimizerPreconditioning.NONE ? null   // as the store's rows
        : ExtractJob.adamScaling(model, meta.layerNames(), c.dir(), meta.optimizerSha256(),
            "extract.optimizer-preconditioning");
    return new GradientExtractor(model, projections, BATCH, adam).extract(t.stream().map(PromptCompletion::id).toList(),
        t.stream().map(PromptCompletion::tokens).toList(), t.stream().map(PromptCompletion::lossMask).toList());
  }

  /** Full float64 gradients w.r.t. {@code layers}, from the float64 model: what the iterative solvers solve with. */
  public static List<ExampleGradient> full(List<Queries.Query> queries, RunCheckpoint c, List<String> layers) {
    CausalLm model = load(c, DataType.DOUBLE);
    List<PromptCompletion> t = encode(queries, c, model);
    GradientRequest request = GradientRequest.perExampleFull().withTrackedLayers(layers);
    List<ExampleGradient> out = new ArrayList<>();
    for (int start = 0; start < t.size(); start += BATCH) {
      List<PromptCompletion> batch = t.subList(start, Math.min(t.size(), start + BATCH));
      BatchGradients g = model.gradients(new TokenBatch(batch.stream().map(PromptCompletion::tokens)
          .toArray(int[][]::new), batch.stream().map(PromptCompletion::lossMask).toArray(int[][]::new)), request);
      for (int i = 0; i < batch.size(); i++) {
        Map<String, INDArray> layerMap = new LinkedHashMap<>();
        for (String l : layers) {
          layerMap.put(l, g.fullPerExample().get(i).get(l));
        }
        out.add(new ExampleGradient(batch.get(i).id(), layerMap));
      }
    }
    return out;
  }

  /** Every query encoded with checkpoint {@code c}'s tokenizer, checked against the model's context. */
  public static List<PromptCompletion> encode(List<Queries.Query> queries, RunCheckpoint c, CausalLm model) {
    Tokenizer tokenizer;
    try {
      tokenizer = Tokenizer.fromTokenizerJson(c.dir().resolve("tokenizer.json"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the tokenizer of " + c.dir() + ": " + e.getMessage(), e);
    }
    int context = model.config().maxPositions();
    return queries.stream().map(q -> PromptCompletion.encode(tokenizer, q.id(), q.prompt(), q.completion(), context))
        .toList();
  }

  private static CausalLm load(RunCheckpoint c, DataType type) {
    try {
      return CausalLm.load(c.dir(), type);
    } catch (CheckpointFormatException e) {
      throw new IllegalStateException("cannot load checkpoint " + c.dir() + ": " + e.getMessage(), e);
    }
  }
}
