package io.influence.core.grad;

import io.influence.core.model.BatchGradients;
import io.influence.core.model.CausalLm;
import io.influence.core.model.GradientRequest;
import io.influence.core.model.KroneckerProjection;
import io.influence.core.model.TokenBatch;
import io.influence.core.tracin.ExampleGradient;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Per-example layer gradients of many sequences, computed in batches: full {@code [dOut, dIn+1]}
 * matrices, or Kronecker-projected {@code [kOut, kIn]} ones when projections are given. The one
 * routine behind TracIn checks, the extract stage and the benches, so all of them batch alike.
 *
 * <p>With an {@link AdamScaling} each example's full layer gradient is divided elementwise by Adam's
 * {@code √v̂ + ε} first and then projected ({@code P_out (G ⊘ D) P_inᵀ}); that costs one full {@code [dOut, dIn+1]}
 * gradient per example and layer, which the plain projected path never forms.
 */
public final class GradientExtractor {

  private final CausalLm model;
  private final Map<String, KroneckerProjection> projections;
  private final int batchSize;
  private final AdamScaling adam;

  /** @param projections per tracked layer; empty for full gradients of every linear layer */
  public GradientExtractor(CausalLm model, Map<String, KroneckerProjection> projections, int batchSize) {
    this(model, projections, batchSize, null);
  }

  /**
   * @param projections per tracked layer; empty for full gradients of {@code adam}'s layers, or of every linear
   *                    layer without it
   * @param adam        Adam's per-parameter scaling applied before the projection, or null for none; it must cover
   *                    every tracked layer
   */
  public GradientExtractor(CausalLm model, Map<String, KroneckerProjection> projections, int batchSize,
                           AdamScaling adam) {
    this.adam = adam;
    if (batchSize < 1) {
      throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
    }
    this.model = model;
    this.projections = Map.copyOf(projections);
    this.batchSize = batchSize;
  }

  /**
   * Gradients of each sequence's summed loss; {@code masks} (nullable, or null entries) restrict the
   * loss to chosen target positions, as in {@link TokenBatch}.
   */
  public List<ExampleGradient> extract(List<String> ids, List<int[]> tokens, List<int[]> masks) {
    if (ids.size() != tokens.size() || (masks != null && masks.size() != tokens.size())) {
      throw new IllegalArgumentException("ids, tokens and masks must have one entry per sequence, got " + ids.size()
          + ", " + tokens.size() + (masks == null ? "" : ", " + masks.size()));
    }
    GradientRequest request = projections.isEmpty() ? GradientRequest.perExampleFull()
        : GradientRequest.perExampleProjected(projections);
    if (adam != null) {
      request = GradientRequest.perExampleFull().withTrackedLayers(projections.isEmpty() ? adam.layers()
          : request.trackedLayers());
    }
    List<ExampleGradient> out = new ArrayList<>(ids.size());
    for (int start = 0; start < ids.size(); start += batchSize) {
      int end = Math.min(ids.size(), start + batchSize);
      int[][] batch = tokens.subList(start, end).toArray(new int[0][]);
      int[][] mask = masks == null ? null : masks.subList(start, end).toArray(new int[0][]);
      if (mask != null) {
        if (java.util.Arrays.stream(mask).allMatch(java.util.Objects::isNull)) {
          mask = null;
        } else {
          for (int i = 0; i < mask.length; i++) {
            if (mask[i] == null) {
              mask[i] = new int[batch[i].length];
              java.util.Arrays.fill(mask[i], 1);
            }
          }
        }
      }
      BatchGradients g = model.gradients(new TokenBatch(batch, mask), request);
      List<Map<String, org.nd4j.linalg.api.ndarray.INDArray>> perExample =
          adam != null ? scaled(g.fullPerExample()) : projections.isEmpty() ? g.fullPerExample() : g.projectedPerExample();
      for (int i = start; i < end; i++) {
        out.add(new ExampleGradient(ids.get(i), perExample.get(i - start)));
      }
    }
    return out;
  }

  /** Each example's full gradients divided by Adam's {@code √v̂ + ε}, then projected when projections are given. */
  private List<Map<String, org.nd4j.linalg.api.ndarray.INDArray>> scaled(
      List<Map<String, org.nd4j.linalg.api.ndarray.INDArray>> full) {
    List<Map<String, org.nd4j.linalg.api.ndarray.INDArray>> out = new ArrayList<>(full.size());
    for (Map<String, org.nd4j.linalg.api.ndarray.INDArray> example : full) {
      Map<String, org.nd4j.linalg.api.ndarray.INDArray> m = new java.util.LinkedHashMap<>();
      for (Map.Entry<String, org.nd4j.linalg.api.ndarray.INDArray> e : example.entrySet()) {
        org.nd4j.linalg.api.ndarray.INDArray g = adam.applyInPlace(e.getKey(), e.getValue());
        m.put(e.getKey(), projections.isEmpty() ? g : projections.get(e.getKey()).projectGradient(g));
      }
      out.add(m);
    }
    return out;
  }
}
