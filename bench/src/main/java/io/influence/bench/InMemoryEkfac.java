package io.influence.bench;

import io.influence.core.grad.TokenFactors;
import io.influence.core.model.BatchGradients;
import io.influence.core.model.CausalLm;
import io.influence.core.model.GradientRequest;
import io.influence.core.model.TokenBatch;
import io.influence.ekfac.CovarianceAccumulator;
import io.influence.ekfac.EigenvalueCorrection;
import io.influence.ekfac.LayerFactors;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * EK-FAC factors of a small in-memory training set, the way the fit-ekfac stage computes them (covariances of the
 * per-token factors with the data's own next tokens as labels, float64 eigendecomposition, then the eigenvalue
 * correction from full per-example gradients): the empirical Fisher of the summed per-sequence loss. For the
 * bench's tiny models, where a Spark job would only add start-up time.
 */
final class InMemoryEkfac {

  private static final int BATCH = 32;

  private InMemoryEkfac() {}

  /** Factors (with the EK-FAC correction) of each of {@code layers}, fitted on {@code sequences} at {@code model}. */
  static Map<String, LayerFactors> fit(CausalLm model, List<int[]> sequences, List<String> layers) {
    Map<String, CovarianceAccumulator> cov = new LinkedHashMap<>();
    GradientRequest request = GradientRequest.perExampleTokenFactors().withTrackedLayers(layers);
    for (int start = 0; start < sequences.size(); start += BATCH) {
      List<int[]> batch = sequences.subList(start, Math.min(sequences.size(), start + BATCH));
      BatchGradients g = model.gradients(TokenBatch.of(batch.toArray(new int[0][])), request);
      for (int b = 0; b < batch.size(); b++) {
        for (TokenFactors f : g.tokenFactors().get(b).values()) {
          cov.computeIfAbsent(f.layer(), l -> new CovarianceAccumulator(l, f.dIn(), f.dOut())).add(f, 1.0,
              "sequence " + (start + b));
        }
      }
    }
    Map<String, EigenvalueCorrection> correction = new LinkedHashMap<>();
    Map<String, LayerFactors> base = new LinkedHashMap<>();
    for (String l : layers) {
      LayerFactors f = LayerFactors.fromCovariances(cov.get(l).finish());
      base.put(l, f);
      correction.put(l, new EigenvalueCorrection(f));
    }
    GradientRequest full = GradientRequest.perExampleFull().withTrackedLayers(layers);
    for (int start = 0; start < sequences.size(); start += BATCH) {
      List<int[]> batch = sequences.subList(start, Math.min(sequences.size(), start + BATCH));
      BatchGradients g = model.gradients(TokenBatch.of(batch.toArray(new int[0][])), full);
      for (int b = 0; b < batch.size(); b++) {
        for (String l : layers) {
          correction.get(l).addGradient(g.fullPerExample().get(b).get(l), 1.0, "sequence " + (start + b));
        }
      }
    }
    Map<String, LayerFactors> out = new LinkedHashMap<>();
    for (String l : layers) {
      out.put(l, base.get(l).withCorrection(correction.get(l).finish(), correction.get(l).examples()));
    }
    return out;
  }
}
