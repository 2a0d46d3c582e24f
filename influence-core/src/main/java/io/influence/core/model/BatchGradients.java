package io.influence.core.model;

import io.influence.core.grad.TokenFactors;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * What one forward/backward pass over a {@link TokenBatch} produced (see {@link GradientRequest}).
 * Lists are indexed by example; maps by tracked-layer name (or by Hugging Face parameter name,
 * without the {@code transformer.} prefix, for {@code parameterGradients}). Parts that were not
 * requested are {@code null}. All arrays are owned by the caller (unless the caller opted into
 * {@link Gpt2Model#reusePerExampleBuffers(boolean)}, which makes {@code fullPerExample} views that
 * the next call overwrites).
 *
 * @param losses              per-example summed, masked next-token loss (accumulated in float64)
 * @param parameterGradients  gradient of {@code Σ_i L(z_i)} for every parameter, in the Hugging Face shape
 *                            (Conv1D weight {@code [dIn, dOut]}; {@code wte.weight} includes the tied head)
 * @param tokenFactors        per example: layer → {@code (a [T_i, dIn+1], g [T_i, dOut])}
 * @param fullPerExample      per example: layer → {@code G = gᵀa}, {@code [dOut, dIn+1]} (bias last column)
 * @param projectedPerExample per example: layer → {@code P_out G P_inᵀ}, {@code [kOut, kIn]}
 */
public record BatchGradients(double[] losses, Map<String, INDArray> parameterGradients,
                             List<Map<String, TokenFactors>> tokenFactors,
                             List<Map<String, INDArray>> fullPerExample,
                             List<Map<String, INDArray>> projectedPerExample) {
}
