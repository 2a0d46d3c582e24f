package io.influence.spark.ekfac;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.grad.RankOneScaling;
import io.influence.core.grad.TokenFactors;
import io.influence.core.model.Gpt2Model;
import io.influence.core.model.GradientRequest;
import io.influence.core.model.KroneckerProjection;
import io.influence.core.model.TokenBatch;
import io.influence.ekfac.CovarianceAccumulator;
import io.influence.ekfac.EigenvalueCorrection;
import io.influence.ekfac.LayerFactors;
import io.influence.spark.store.StoreMetadata;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * EK-FAC factors fitted on one machine with the ekfac classes directly: one example at a time through the model
 * (no batching, no Spark), token factors projected with the model's own projections and ND4J's mmul, covariances
 * accumulated in corpus order, the correction over the given per-example gradients in id order.
 */
final class OneMachineEkfac {

  private OneMachineEkfac() {}

  static Map<String, LayerFactors> fit(RunCheckpoint c, List<int[]> corpus, StoreMetadata meta,
      Map<String, Map<String, INDArray>> gradients) throws Exception {
    return fit(c, corpus, meta, gradients, GradientRequest.Labels.OBSERVED);
  }

  /**
   * An Adam store's fit: each token's factors scaled by {@code scalings} (per layer, before the projection), the
   * correction over {@code gradients}.
   */
  static Map<String, LayerFactors> fit(RunCheckpoint c, List<int[]> corpus, StoreMetadata meta,
      Map<String, Map<String, INDArray>> gradients, Map<String, RankOneScaling> scalings) throws Exception {
    return fit(c, corpus, meta, List.of(gradients), List.of(GradientRequest.Labels.OBSERVED), scalings);
  }

  /**
   * The true Fisher with {@code labels} sampled: token factors and the correction's per-example gradients (full, or
   * projected {@code P_out G P_inᵀ} with ND4J's mmul) both against the sampled labels, one example at a time.
   */
  static Map<String, LayerFactors> fitSampled(RunCheckpoint c, List<String> ids, List<int[]> corpus,
      StoreMetadata meta, GradientRequest.Labels labels) throws Exception {
    return fitSampled(c, ids, corpus, meta, List.of(labels));
  }

  /**
   * The true Fisher averaged over several label draws: every draw's token factors and per-example gradients added
   * with weight {@code 1 / draws}, one example and one draw at a time.
   */
  static Map<String, LayerFactors> fitSampled(RunCheckpoint c, List<String> ids, List<int[]> corpus,
      StoreMetadata meta, List<GradientRequest.Labels> draws) throws Exception {
    Gpt2Model model = Gpt2Model.load(c.dir(), DataType.FLOAT);
    List<String> names = meta.layerNames();
    Map<String, KroneckerProjection> projections = meta.projectionSeed() == null ? Map.of()
        : model.projections(names, meta.layers().get(0).cols(), meta.layers().get(0).rows(), meta.projectionSeed());
    List<Map<String, Map<String, INDArray>>> gradients = new java.util.ArrayList<>();
    for (GradientRequest.Labels labels : draws) {
      Map<String, Map<String, INDArray>> byId = new java.util.HashMap<>();
      GradientRequest full = GradientRequest.perExampleFull().withTrackedLayers(names).withLabels(labels);
      for (int i = 0; i < corpus.size(); i++) {
        Map<String, INDArray> g = model.gradients(TokenBatch.of(corpus.get(i)), full).fullPerExample().get(0);
        Map<String, INDArray> kept = new LinkedHashMap<>();
        for (String l : names) {
          KroneckerProjection p = projections.get(l);
          kept.put(l, p == null ? g.get(l).dup() : p.pOut().mmul(g.get(l)).mmul(p.pIn().transpose()));
        }
        byId.put(ids.get(i), kept);
      }
      gradients.add(byId);
    }
    return fit(c, corpus, meta, gradients, draws);
  }

  private static Map<String, LayerFactors> fit(RunCheckpoint c, List<int[]> corpus, StoreMetadata meta,
      Map<String, Map<String, INDArray>> gradients, GradientRequest.Labels labels) throws Exception {
    return fit(c, corpus, meta, List.of(gradients), List.of(labels));
  }

  private static Map<String, LayerFactors> fit(RunCheckpoint c, List<int[]> corpus, StoreMetadata meta,
      List<Map<String, Map<String, INDArray>>> gradients, List<GradientRequest.Labels> draws) throws Exception {
    return fit(c, corpus, meta, gradients, draws, Map.of());
  }

  private static Map<String, LayerFactors> fit(RunCheckpoint c, List<int[]> corpus, StoreMetadata meta,
      List<Map<String, Map<String, INDArray>>> gradients, List<GradientRequest.Labels> draws,
      Map<String, RankOneScaling> scalings) throws Exception {
    Gpt2Model model = Gpt2Model.load(c.dir(), DataType.FLOAT);
    List<String> names = meta.layerNames();
    Map<String, KroneckerProjection> projections = meta.projectionSeed() == null ? Map.of()
        : model.projections(names, meta.layers().get(0).cols(), meta.layers().get(0).rows(), meta.projectionSeed());
    double weight = 1.0 / draws.size();
    Map<String, CovarianceAccumulator> cov = new LinkedHashMap<>();
    for (StoreMetadata.Layer l : meta.layers()) {
      cov.put(l.name(), new CovarianceAccumulator(l.name(), l.cols(), l.rows()));
    }
    for (GradientRequest.Labels labels : draws) {
      GradientRequest request = GradientRequest.perExampleTokenFactors().withTrackedLayers(names).withLabels(labels);
      for (int k = 0; k < corpus.size(); k++) {
        Map<String, TokenFactors> f = model.gradients(TokenBatch.of(corpus.get(k)), request).tokenFactors().get(0);
        for (String l : names) {
          TokenFactors t = f.get(l);
          if (scalings.containsKey(l)) {
            t = scalings.get(l).apply(t);
          }
          KroneckerProjection p = projections.get(l);
          if (p != null) {
            t = new TokenFactors(l, t.a().mmul(p.pIn().transpose()), t.g().mmul(p.pOut().transpose()));
          }
          cov.get(l).add(t, weight, "example " + k);
        }
      }
    }
    Map<String, LayerFactors> out = new LinkedHashMap<>();
    for (String l : names) {
      LayerFactors f = LayerFactors.fromCovariances(cov.get(l).finish());
      EigenvalueCorrection e = new EigenvalueCorrection(f);
      for (Map<String, Map<String, INDArray>> byId : gradients) {
        for (Map.Entry<String, Map<String, INDArray>> g : new TreeMap<>(byId).entrySet()) {
          e.addGradient(g.getValue().get(l), weight, g.getKey());
        }
      }
      out.put(l, f.withCorrection(e.finish(), e.examples()));
    }
    return out;
  }
}
