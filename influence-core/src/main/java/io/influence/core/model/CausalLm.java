package io.influence.core.model;

import io.influence.checkpoints.Checkpoint;
import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.ModelConfig;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A decoder-only causal language model on ND4J: the one contract every stage, job, benchmark and
 * the report uses, whatever the family. The family is chosen from the checkpoint's
 * {@code config.json} by {@link #load}; no caller names a concrete model class.
 *
 * <p>Loss convention: one sequence's loss is the sum over its masked positions {@code t ≥ 1} of
 * {@code −log p(x_t | x_<t)} (see {@link TokenBatch}). Batches are right-padded; padding never
 * influences a real position.
 *
 * <p>Tracked layers are the model's linear layers ({@link #linearLayers()}); every per-layer
 * quantity (per-example gradients, token factors, projections, tangents) uses the orientation of
 * {@link LinearLayer}: {@code [dOut, dIn (+1 for a bias)]}.
 *
 * <p>Precision: float32 (speed) or float64 (checks), chosen at load. Implementations keep buffers
 * per batch shape and are not thread-safe: one model per thread.
 */
public interface CausalLm {

  /**
   * Loads the checkpoint folder ({@code config.json} + safetensors, see {@link Checkpoint}) as the
   * model family its {@code model_type} names. A PEFT adapter folder (a checkpoint of a LoRA
   * training run) is loaded on the base its {@code base_model_name_or_path} names, as
   * {@link #load(Path, Path, DataType)} does.
   *
   * @throws CheckpointFormatException for an unreadable or unsupported checkpoint (names the file,
   *     key or tensor)
   */
  static CausalLm load(Path dir, DataType dataType) throws CheckpointFormatException {
    return ModelFamilies.load(dir, dataType);
  }

  /**
   * A model of {@code config}'s family from Hugging Face-named tensors in Hugging Face shapes
   * (copied); every parameter exactly once, finite, in its shape.
   *
   * @throws IllegalArgumentException naming the tensor, with a HINT, for anything else
   */
  static CausalLm fromTensors(ModelConfig config, Map<String, INDArray> tensors, DataType dataType) {
    return ModelFamilies.fromTensors(config, tensors, dataType);
  }

  /**
   * Loads a base checkpoint folder with a PEFT LoRA adapter folder ({@code adapter_config.json} +
   * {@code adapter_model.safetensors}; {@code null} for none). The base is frozen: the model's
   * parameters and tracked layers are the adapter's {@code lora_A}/{@code lora_B} factors only.
   * Supported on the Llama family.
   *
   * @throws CheckpointFormatException for an unreadable or unsupported checkpoint or adapter
   */
  static CausalLm load(Path dir, Path adapterDir, DataType dataType) throws CheckpointFormatException {
    return ModelFamilies.load(dir, adapterDir, dataType);
  }

  /** The architecture read from {@code config.json}. */
  ModelConfig config();

  DataType dataType();

  /** The same weights in another precision (a copy). */
  CausalLm withDataType(DataType dataType);

  /** Every linear layer inside the blocks, in forward order: the default tracked layers. */
  List<String> linearLayers();

  /** The tracked layer {@code name}; throws {@link IllegalArgumentException} naming the known ones otherwise. */
  LinearLayer linear(String name);

  /** {@code {dOut, cols}}: the shape of a per-example gradient of {@code layer} (see {@link LinearLayer}). */
  default int[] linearShape(String layer) {
    return linear(layer).shape();
  }

  /** Number of linear weights inside the blocks (biases excluded). */
  default long linearWeightCount() {
    long s = 0;
    for (String l : linearLayers()) {
      LinearLayer ll = linear(l);
      s += (long) ll.dIn() * ll.dOut();
    }
    return s;
  }

  /** Copies of all parameters under their Hugging Face names, in Hugging Face shapes. */
  default Map<String, INDArray> parameters() {
    Map<String, INDArray> out = new LinkedHashMap<>();
    parameterViews().forEach((k, v) -> out.put(k, v.dup('c')));
    return out;
  }

  /**
   * Live views of all trainable parameters (same names and shapes as {@link #parameters()}):
   * writing into them changes the model. For optimisers and finite differences.
   */
  Map<String, INDArray> parameterViews();

  /** Seeded projections for the given layers, all with the same {@code kIn, kOut} (see {@link KroneckerProjection#create}). */
  default Map<String, KroneckerProjection> projections(List<String> layers, int kIn, int kOut, long seed) {
    Map<String, KroneckerProjection> out = new LinkedHashMap<>();
    for (String l : layers) {
      int[] s = linearShape(l);
      out.put(l, KroneckerProjection.create(l, s[1], s[0], kIn, kOut, seed, dataType()));
    }
    return out;
  }

  /** Seeded projections with sizes per layer: {@code sizes.get(layer) = {kIn, kOut}}. */
  default Map<String, KroneckerProjection> projections(Map<String, int[]> sizes, long seed) {
    Map<String, KroneckerProjection> out = new LinkedHashMap<>();
    for (Map.Entry<String, int[]> e : sizes.entrySet()) {
      int[] k = e.getValue();
      if (k == null || k.length != 2) {
        throw new IllegalArgumentException("layer " + e.getKey() + ": sizes must be {kIn, kOut}");
      }
      int[] s = linearShape(e.getKey());
      out.put(e.getKey(), KroneckerProjection.create(e.getKey(), s[1], s[0], k[0], k[1], seed, dataType()));
    }
    return out;
  }

  /**
   * For callers that consume each batch's full per-example gradients before the next call
   * (benchmarks): when on, {@code fullPerExample} arrays are views into one buffer per layer that
   * the next call with the same batch shape overwrites. Off by default.
   */
  void reusePerExampleBuffers(boolean on);

  /** Per-example summed masked next-token losses. */
  double[] losses(TokenBatch batch);

  /** One forward and backward pass producing what {@code request} asks for. */
  BatchGradients gradients(TokenBatch batch, GradientRequest request);

  /**
   * The logits of every position, {@code [B, T, V]} 'c' in the model's data type: row {@code t} of
   * example {@code b} scores the token at {@code t + 1}. Rows at or past an example's length are
   * padding. A copy.
   */
  INDArray logits(TokenBatch batch);

  /**
   * The final hidden states entering the output head (after the final norm), {@code [B, T, C]} 'c' in the model's
   * data type: row {@code t} of example {@code b} is the {@code f} with {@code logits = headWeight() · f} that
   * scores the token at {@code t + 1}. Rows at or past an example's length are padding. A copy. For last-layer
   * methods (representer points).
   */
  INDArray finalHidden(TokenBatch batch);

  /** The output head {@code [V, C]} 'c' (GPT-2's and tied Llamas' is the token embedding; the head has no bias). A copy. */
  INDArray headWeight();

  /**
   * The exact directional derivative of the logits (forward mode, {@code J v}) when the given
   * tracked layers move along {@code tangents} (per layer a {@code [dOut, cols]} matrix in the
   * {@link LinearLayer} orientation); every other parameter is fixed. {@code [B, T, V]} like {@link #logits}.
   */
  INDArray logitTangents(TokenBatch batch, Map<String, INDArray> tangents);

  /**
   * Backpropagates a logits gradient {@code u} ({@code [B, T, V]}) to every parameter: {@code Jᵀu}
   * under Hugging Face names and shapes, summed over the batch; rows past an example's length are ignored.
   */
  default Map<String, INDArray> parameterGradientsFromLogitGradients(TokenBatch batch, INDArray dLogits) {
    return parameterGradientsFromLogits(batch, logits -> dLogits);
  }

  /**
   * As {@link #parameterGradientsFromLogitGradients}, with {@code u} computed from the logits of the
   * same forward pass ({@code logitGradient} receives a {@code [B, T, V]} copy): one forward pass.
   */
  Map<String, INDArray> parameterGradientsFromLogits(TokenBatch batch, UnaryOperator<INDArray> logitGradient);

  /**
   * Runs the forward pass of {@code batch} once and keeps it for several tangent and backward passes on that
   * batch: what curvature products need ({@code J v}, then {@code Jᵀ r}, for many vectors {@code v} at the same
   * parameters). Each product through the hold costs its tangent or backward pass only, instead of a forward pass
   * more. The hold re-runs the forward pass by itself when another call on this model has used the buffers since
   * (so using a stale hold is slower, never wrong). The parameters must not change while it is held.
   */
  default HeldForward hold(TokenBatch batch) {
    INDArray logits = logits(batch);
    return new HeldForward() {
      @Override
      public INDArray logits() {
        return logits;
      }

      @Override
      public INDArray logitTangents(Map<String, INDArray> tangents) {
        return CausalLm.this.logitTangents(batch, tangents);
      }

      @Override
      public Map<String, INDArray> parameterGradients(INDArray dLogits) {
        return parameterGradientsFromLogitGradients(batch, dLogits);
      }

      @Override
      public Map<String, INDArray> layerGradients(INDArray dLogits, List<String> layers) {
        Map<String, INDArray> named = parameterGradients(dLogits);
        Map<String, INDArray> out = new LinkedHashMap<>();
        for (String l : layers) {
          LinearLayer ll = linear(l);
          double[] flat = new double[ll.dOut() * ll.cols()];
          ll.addTo(named, 1.0, flat, 0);
          out.put(l, org.nd4j.linalg.factory.Nd4j.create(flat, new long[] {ll.dOut(), ll.cols()}, 'c'));
        }
        return out;
      }
    };
  }

  /** The forward pass of one batch, kept: see {@link #hold}. Not thread-safe (nor is the model). */
  interface HeldForward {
    /** The logits of the held pass, {@code [B, T, V]} as {@link CausalLm#logits} returns them; do not modify. */
    INDArray logits();

    /** {@link CausalLm#logitTangents} of the held batch, without a forward pass. */
    INDArray logitTangents(Map<String, INDArray> tangents);

    /** {@link CausalLm#parameterGradientsFromLogitGradients} of the held batch, without a forward pass. */
    Map<String, INDArray> parameterGradients(INDArray dLogits);

    /**
     * The gradients of the tracked linear {@code layers} only, from the logits gradient {@code dLogits}: per layer a
     * {@code [dOut, cols]} matrix in the {@link LinearLayer} orientation, summed over the batch. What curvature
     * products need: the backward pass without the gradients of every other parameter (the output head's, a
     * {@code V × C} product, among them).
     */
    Map<String, INDArray> layerGradients(INDArray dLogits, List<String> layers);
  }

  /** Wall-clock seconds per phase since {@link #resetTimings()}; for profiling. */
  Map<String, Double> timings();

  void resetTimings();
}
