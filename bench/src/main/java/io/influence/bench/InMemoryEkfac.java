package io.influence.bench;

import io.influence.core.grad.AdamScaling;
import io.influence.core.grad.RankOneScaling;
import org.nd4j.linalg.api.ndarray.INDArray;

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
    return fit(model, sequences, layers, GradientRequest.Labels.OBSERVED, 1);
  }

  /**
   * The same fit against {@code labels}: observed next tokens (the empirical Fisher) or, when sampled, the true
   * Fisher estimated from {@code samples} label draws per predicted position (draw {@code s} seeded with
   * {@code seed + s}, each pass weighted {@code 1/samples}), which is how {@code ekfac.fisher = true} fits it.
   */
  static Map<String, LayerFactors> fit(CausalLm model, List<int[]> sequences, List<String> layers,
                                       GradientRequest.Labels labels, int samples) {
    return fit(model, sequences, layers, labels, samples, null, false);
  }

  /**
   * The fit on a store of Adam-preconditioned gradients ({@code extract.optimizer-preconditioning = adam}), as
   * fit-ekfac does it: the eigenbasis from token factors scaled by the rank-one fit of Adam's factors
   * ({@link RankOneScaling}), the eigenvalue correction from the per-example gradients scaled by {@code adam}
   * (observed labels); with {@code rankOneBasis} false, the raw token factors' eigenbasis instead (for comparison).
   */
  static Map<String, LayerFactors> fitAdam(CausalLm model, List<int[]> sequences, List<String> layers,
                                           AdamScaling adam, boolean rankOneBasis) {
    return fit(model, sequences, layers, GradientRequest.Labels.OBSERVED, 1, adam, rankOneBasis);
  }

  private static Map<String, LayerFactors> fit(CausalLm model, List<int[]> sequences, List<String> layers,
                                               GradientRequest.Labels labels, int samples, AdamScaling adam,
                                               boolean rankOne) {
    if (samples < 1 || (!labels.sampled() && samples != 1)) {
      throw new IllegalArgumentException("samples must be 1 for observed labels and >= 1 for sampled ones: " + samples);
    }
    double weight = 1.0 / samples;
    Map<String, RankOneScaling> scalings = new LinkedHashMap<>();
    if (rankOne) {
      layers.forEach(l -> scalings.put(l, RankOneScaling.fit(adam.factors(l))));
    }
    Map<String, CovarianceAccumulator> cov = new LinkedHashMap<>();
    for (int s = 0; s < samples; s++) {
      GradientRequest request = GradientRequest.perExampleTokenFactors().withTrackedLayers(layers)
          .withLabels(draw(labels, s));
      for (int start = 0; start < sequences.size(); start += BATCH) {
        List<int[]> batch = sequences.subList(start, Math.min(sequences.size(), start + BATCH));
        BatchGradients g = model.gradients(TokenBatch.of(batch.toArray(new int[0][])), request);
        for (int b = 0; b < batch.size(); b++) {
          for (TokenFactors f0 : g.tokenFactors().get(b).values()) {
            TokenFactors f = rankOne ? scalings.get(f0.layer()).apply(f0) : f0;
            cov.computeIfAbsent(f.layer(), l -> new CovarianceAccumulator(l, f.dIn(), f.dOut())).add(f, weight,
                "sequence " + (start + b));
          }
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
    for (int s = 0; s < samples; s++) {
      GradientRequest full = GradientRequest.perExampleFull().withTrackedLayers(layers).withLabels(draw(labels, s));
      for (int start = 0; start < sequences.size(); start += BATCH) {
        List<int[]> batch = sequences.subList(start, Math.min(sequences.size(), start + BATCH));
        BatchGradients g = model.gradients(TokenBatch.of(batch.toArray(new int[0][])), full);
        for (int b = 0; b < batch.size(); b++) {
          for (String l : layers) {
            INDArray grad = g.fullPerExample().get(b).get(l);
            correction.get(l).addGradient(adam == null ? grad : adam.applyInPlace(l, grad.dup()), weight,
                "sequence " + (start + b));
          }
        }
      }
    }
    Map<String, LayerFactors> out = new LinkedHashMap<>();
    for (String l : layers) {
      out.put(l, base.get(l).withCorrection(correction.get(l).finish(), correction.get(l).examples()));
    }
    return out;
  }

  private static GradientRequest.Labels draw(GradientRequest.Labels labels, int s) {
    return labels.sampled() ? GradientRequest.Labels.sampled(labels.seed() + s) : labels;
  }
}
