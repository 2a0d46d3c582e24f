package io.influence.core.model;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What a backward pass should produce besides the per-example losses.
 *
 * @param parameterGradients gradients of every parameter, summed over the batch (for training)
 * @param tokenFactors       per example and tracked layer, the {@link io.influence.core.grad.TokenFactors}
 *                           {@code (a [T, dIn+1], g [T, dOut])} (copies)
 * @param fullPerExample     per example and tracked layer, {@code G = gᵀa}, {@code [dOut, dIn+1]}
 * @param projections        per tracked layer, the projection for {@code P_out G P_inᵀ} ({@code [kOut, kIn]});
 *                           empty for none. Every tracked layer needs one when not empty.
 * @param trackedLayers      layer names such as {@code h.0.attn.c_attn}; {@code null} means every Conv1D
 *                           of every block (see {@link Gpt2Model#linearLayers()})
 * @param labels             which next tokens the gradients are taken against: the observed ones (the data's,
 *                           the empirical Fisher's) or labels sampled from the model's own predictive distribution
 *                           (the true Fisher's); the losses returned are always the observed-label losses
 */
public record GradientRequest(boolean parameterGradients, boolean tokenFactors, boolean fullPerExample,
                              Map<String, KroneckerProjection> projections, List<String> trackedLayers,
                              Labels labels) {

  /**
   * The labels of the loss the gradients differentiate. {@link #OBSERVED}: the next tokens of the data. {@link
   * #sampled}: at every predicted position one label drawn from the model's softmax at that position, seeded by
   * {@code seed}, the example's tokens and the position only, so the same example gets the same labels in any batch,
   * partition or order (what Kronfluence and Grosse et al. use for the true Fisher).
   */
  public record Labels(boolean sampled, long seed) implements java.io.Serializable {
    public static final Labels OBSERVED = new Labels(false, 0);

    public static Labels sampled(long seed) {
      return new Labels(true, seed);
    }
  }

  /** A request with observed labels. */
  public GradientRequest(boolean parameterGradients, boolean tokenFactors, boolean fullPerExample,
                         Map<String, KroneckerProjection> projections, List<String> trackedLayers) {
    this(parameterGradients, tokenFactors, fullPerExample, projections, trackedLayers, Labels.OBSERVED);
  }

  public GradientRequest {
    projections = projections == null ? Map.of() : Map.copyOf(projections);
    trackedLayers = trackedLayers == null ? null : List.copyOf(trackedLayers);
    labels = labels == null ? Labels.OBSERVED : labels;
  }

  /** Only the batch-summed gradients of all parameters (what a trainer needs). */
  public static GradientRequest allParameters() {
    return new GradientRequest(true, false, false, Map.of(), null);
  }

  /** Per-example full layer gradients of every tracked layer. */
  public static GradientRequest perExampleFull() {
    return new GradientRequest(false, false, true, Map.of(), null);
  }

  /** Per-example token factors of every tracked layer. */
  public static GradientRequest perExampleTokenFactors() {
    return new GradientRequest(false, true, false, Map.of(), null);
  }

  /** Per-example projected gradients; the tracked layers are the projections' keys. */
  public static GradientRequest perExampleProjected(Map<String, KroneckerProjection> projections) {
    Objects.requireNonNull(projections, "projections");
    return new GradientRequest(false, false, false, projections, List.copyOf(new java.util.TreeSet<>(projections.keySet())));
  }

  public GradientRequest withParameterGradients(boolean on) {
    return new GradientRequest(on, tokenFactors, fullPerExample, projections, trackedLayers, labels);
  }

  public GradientRequest withTokenFactors(boolean on) {
    return new GradientRequest(parameterGradients, on, fullPerExample, projections, trackedLayers, labels);
  }

  public GradientRequest withFullPerExample(boolean on) {
    return new GradientRequest(parameterGradients, tokenFactors, on, projections, trackedLayers, labels);
  }

  public GradientRequest withProjections(Map<String, KroneckerProjection> p) {
    return new GradientRequest(parameterGradients, tokenFactors, fullPerExample, p, trackedLayers, labels);
  }

  public GradientRequest withTrackedLayers(List<String> layers) {
    return new GradientRequest(parameterGradients, tokenFactors, fullPerExample, projections, layers, labels);
  }

  /** The same request with gradients against {@code l}. */
  public GradientRequest withLabels(Labels l) {
    return new GradientRequest(parameterGradients, tokenFactors, fullPerExample, projections, trackedLayers, l);
  }

  boolean needsPerExample() {
    return tokenFactors || fullPerExample || !projections.isEmpty();
  }
}
