package io.influence.core.model;

import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * {@link CausalLm.HeldForward} over a model's per-shape pass object {@code P}: the forward pass runs when the hold
 * is made and again only when the model's pass for this batch shape has been replaced or has run another forward
 * pass since ({@link Forwards#forwards()} changed). Tangent and backward passes read the forward caches and do not
 * change them (the backward pass overwrites only the logits buffer, which the hold copied when it was made).
 */
final class HeldPass<P extends HeldPass.Forwards> implements CausalLm.HeldForward {

  /** A pass object that counts its forward passes. */
  interface Forwards {
    /** How many forward passes this pass object has run (each overwrites its caches). */
    long forwards();
  }

  private final TokenBatch batch;
  private final Function<TokenBatch, P> passFor;
  private final java.util.function.Consumer<P> forward;
  private final BiFunction<P, Map<String, INDArray>, INDArray> tangents;
  private final BiFunction<P, INDArray, Map<String, INDArray>> backward;
  private final LayerBackward<P> layerBackward;

  /** The tracked layers' gradients from a logits gradient, after the forward pass (see {@link #layerGradients}). */
  interface LayerBackward<P> {
    Map<String, INDArray> apply(P pass, INDArray dLogits, java.util.List<String> layers);
  }
  private final INDArray logits;
  private P held;
  private long forwards;

  /**
   * @param passFor  the model's pass object for a batch's shape
   * @param forward  runs the forward pass of {@code batch} in a pass object (up to the logits)
   * @param logits   the logits of a pass after its forward pass, as a {@code [B, T, V]} copy
   * @param tangents the logit tangents, after the forward pass
   * @param backward the parameter gradients from a logits gradient, after the forward pass
   * @param layerBackward the tracked layers' gradients only, after the forward pass
   */
  HeldPass(TokenBatch batch, Function<TokenBatch, P> passFor, java.util.function.Consumer<P> forward,
      Function<P, INDArray> logits, BiFunction<P, Map<String, INDArray>, INDArray> tangents,
      BiFunction<P, INDArray, Map<String, INDArray>> backward, LayerBackward<P> layerBackward) {
    this.layerBackward = layerBackward;
    this.batch = batch;
    this.passFor = passFor;
    this.forward = forward;
    this.tangents = tangents;
    this.backward = backward;
    this.logits = logits.apply(forwarded());
  }

  /** The pass holding this batch's forward pass, run again if another call has used it since. */
  private P forwarded() {
    P p = passFor.apply(batch);
    if (p != held || p.forwards() != forwards) {
      forward.accept(p);
      held = p;
      forwards = p.forwards();
    }
    return p;
  }

  /**
   * Each layer's gradient {@code g aᵀ} summed over the batch's columns, from its token factors {@code {a, g}}
   * ({@code [cols, N]} and {@code [dOut, N]}, after a backward pass; padded columns have zero {@code g}).
   */
  static Map<String, INDArray> fromFactors(java.util.List<String> layers, Function<String, INDArray[]> factors,
      org.nd4j.linalg.api.buffer.DataType dataType) {
    Map<String, INDArray> out = new java.util.LinkedHashMap<>();
    for (String l : layers) {
      INDArray[] f = factors.apply(l);
      INDArray g = org.nd4j.linalg.factory.Nd4j.create(dataType, new long[] {f[1].rows(), f[0].rows()}, 'f');
      Blas.gemm(f[1], false, f[0], true, g, 1, 0);
      out.put(l, g);
    }
    return out;
  }

  @Override
  public INDArray logits() {
    return logits;
  }

  @Override
  public INDArray logitTangents(Map<String, INDArray> t) {
    return tangents.apply(forwarded(), t);
  }

  @Override
  public Map<String, INDArray> parameterGradients(INDArray dLogits) {
    return backward.apply(forwarded(), dLogits);
  }

  @Override
  public Map<String, INDArray> layerGradients(INDArray dLogits, java.util.List<String> layers) {
    return layerBackward.apply(forwarded(), dLogits, layers);
  }
}
