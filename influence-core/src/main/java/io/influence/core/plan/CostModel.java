package io.influence.core.plan;

import io.influence.checkpoints.Gpt2Config;
import io.influence.checkpoints.LlamaConfig;
import io.influence.checkpoints.ModelConfig;
import io.influence.core.model.CausalLm;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * What the pipeline's stages cost for one {@link CausalLm} and set of tracked layers, counted from shapes alone:
 * GEMM floating-point operations, floats stored per row, bytes held by a task. No Spark, no timing (see {@link
 * Calibration} for rates); {@code io.influence.spark.plan.Planner} multiplies these by the corpus.
 *
 * <p>FLOPs are {@code 2·m·n·k} per GEMM. The per-example gradient pass ({@link #passFlops}) is counted exactly as
 * the model's kernels run it, so that it equals a brute-force count of the GEMMs ({@code GemmFlops}), for a batch of
 * {@code B} sequences right-padded to {@code T} tokens ({@code N = B·T} positions), {@code Σ len_b} real tokens:
 * <pre>
 * forward    per block linear [dOut, dIn(+1 bias)]     2·dOut·cols·N        (+ LoRA: 2·r·dIn·N + 2·dOut·r·N)
 *            attention per block                       4·B·H·T²·hd          (scores qᵀk, then v·P; full T×T)
 *            LM head                                   2·V·C·N
 * backward   LM head (input gradient only)             2·V·C·N
 *            per block linear input gradient           2·dIn·dOut·N         (not the block-0 input projections:
 *                                                                            c_attn / q,k,v; LoRA: 2·r·dOut·N always,
 *                                                                            + 2·dIn·r·N where the input gradient is)
 *            attention per block                       8·B·H·T²·hd
 * per example (tracked layer [dOut, cols])
 *            full gradient g aᵀ                        2·dOut·cols·Σ len_b
 *            projected (P_out g)(P_in a)ᵀ              2·kIn·cols·N + 2·kOut·dOut·N + 2·kOut·kIn·Σ len_b
 * </pre>
 * Other stages (approximate where said):
 * <pre>
 * covariance pass     a gradient pass without per-example products + per token 2·(kIn² + kOut²) per layer
 *                     (+ projecting the token factors, 2·(kIn·cols + kOut·dOut) per token and layer)
 * eigendecomposition  ≈ 9·n³ per n×n factor (symmetric, float64, with vectors: an order of magnitude, not exact)
 * correction pass     per stored row and layer 2·kOut²·kIn + 2·kOut·kIn²   (Q_Sᵀ G Q_A)
 * scoring             per checkpoint 2·Q·R·D   (Q queries, R rows, D stored floats per row)
 * Gauss-Newton HVP    ≈ 5 forward passes per token and vector (tangent 2, forward + backward with weights 3), float64
 * </pre>
 * Bytes: a stored row holds {@code D} float32 values packed in one Parquet binary column, plus the id (see {@link
 * #storeBytesPerRow}).
 */
public final class CostModel {

  /**
   * A linear map of a block as the forward pass runs it.
   *
   * @param block      block index
   * @param dOut       outputs
   * @param dIn        inputs (weight columns)
   * @param bias       whether the weight matrix has a bias column
   * @param blockInput whether it reads the block's (normalised) input, so block 0 computes no input gradient for it
   * @param loraRank   the adapter's rank on this map, 0 without one
   */
  record Linear(int block, int dOut, int dIn, boolean bias, boolean blockInput, int loraRank) {
    int cols() {
      return dIn + (bias ? 1 : 0);
    }
  }

  /** The tracked layer shapes {@code [dOut, cols]} in the model's orientation. */
  record Tracked(String name, int dOut, int cols) {}

  private final String family;
  private final List<Linear> linears;
  private final List<Tracked> tracked;
  private final int vocab;
  private final int hidden;
  private final int heads;
  private final int headSize;
  private final long parameters;

  private CostModel(String family, List<Linear> linears, List<Tracked> tracked, int vocab, int hidden, int heads,
                    int headSize, long parameters) {
    this.family = family;
    this.linears = List.copyOf(linears);
    this.tracked = List.copyOf(tracked);
    this.vocab = vocab;
    this.hidden = hidden;
    this.heads = heads;
    this.headSize = headSize;
    this.parameters = parameters;
  }

  /**
   * The cost model of {@code model} with {@code trackedLayers} (names of {@link CausalLm#linearLayers()}; a LoRA
   * model's are its adapter factors) as the stored layers.
   */
  public static CostModel of(CausalLm model, List<String> trackedLayers) {
    Objects.requireNonNull(model, "model");
    List<Tracked> tracked = new ArrayList<>();
    for (String l : trackedLayers) {
      int[] s = model.linearShape(l);
      tracked.add(new Tracked(l, s[0], s[1]));
    }
    ModelConfig config = model.config();
    List<Linear> linears = new ArrayList<>();
    long params;
    if (config instanceof Gpt2Config g) {
      int c = g.nEmbd();
      for (int b = 0; b < g.nLayer(); b++) {
        linears.add(new Linear(b, 3 * c, c, true, true, 0));
        linears.add(new Linear(b, c, c, true, false, 0));
        linears.add(new Linear(b, 4 * c, c, true, false, 0));
        linears.add(new Linear(b, c, 4 * c, true, false, 0));
      }
      // wte (tied head), wpe, 2 LayerNorms per block + the final one, weight and bias each
      params = (long) g.vocabSize() * c + (long) g.nPositions() * c + (2L * g.nLayer() + 1) * 2 * c;
    } else if (config instanceof LlamaConfig l) {
      int c = l.hiddenSize();
      int q = l.numAttentionHeads() * l.headDim();
      int kv = l.numKeyValueHeads() * l.headDim();
      int inter = l.intermediateSize();
      for (int b = 0; b < l.numHiddenLayers(); b++) {
        String p = "model.layers." + b + ".";
        linears.add(new Linear(b, q, c, l.qkvBias(), true, rank(model, p + "self_attn.q_proj")));
        linears.add(new Linear(b, kv, c, l.qkvBias(), true, rank(model, p + "self_attn.k_proj")));
        linears.add(new Linear(b, kv, c, l.qkvBias(), true, rank(model, p + "self_attn.v_proj")));
        linears.add(new Linear(b, c, q, l.outputBias(), false, rank(model, p + "self_attn.o_proj")));
        linears.add(new Linear(b, inter, c, l.mlpBias(), false, rank(model, p + "mlp.gate_proj")));
        linears.add(new Linear(b, inter, c, l.mlpBias(), false, rank(model, p + "mlp.up_proj")));
        linears.add(new Linear(b, c, inter, l.mlpBias(), false, rank(model, p + "mlp.down_proj")));
      }
      params = (long) l.vocabSize() * c * (l.tieWordEmbeddings() ? 1 : 2) + (2L * l.numHiddenLayers() + 1) * c
          + (l.qkNorm() ? 2L * l.numHiddenLayers() * l.headDim() : 0);
    } else {
      throw new IllegalArgumentException("no cost model for model type " + config.modelType());
    }
    for (Linear x : linears) {
      params += (long) x.dOut() * x.cols() + (long) x.loraRank() * (x.dIn() + x.dOut());
    }
    return new CostModel(config.modelType(), linears, tracked, config.vocabSize(), config.hiddenSize(),
        config.numHeads(), config.headSize(), params);
  }

  /** The LoRA rank on base module {@code module} ({@code <module>.lora_A} is {@code [r, in]}), or 0. */
  private static int rank(CausalLm model, String module) {
    String a = module + ".lora_A";
    return model.linearLayers().contains(a) ? model.linearShape(a)[0] : 0;
  }

  /** The {@code model_type}. */
  public String family() {
    return family;
  }

  /** Parameters of the model (base and adapter), embeddings and norms included. */
  public long parameterCount() {
    return parameters;
  }

  /** Float32 values of one stored row: {@code Σ kOut·kIn} (projected) or {@code Σ dOut·cols} (full) over the layers. */
  public long storedFloatsPerRow(GradientSpace space) {
    long d = 0;
    for (Tracked t : tracked) {
      d += space.projected() ? (long) space.kOut() * space.kIn() : (long) t.dOut() * t.cols();
    }
    return d;
  }

  /**
   * Bytes of one stored row in Parquet (store format 2: float32, no dictionary, as the store writes them): the
   * {@code 4·D} bytes of the packed {@code gradient} binary column and its 4-byte length (one value per row, no
   * repetition levels: format 1's {@code array<float>} columns added about 1/4 byte per value for them), plus the
   * id (its characters and a 4-byte length). Checked against real stores by {@code PlanStoreBytesTest}.
   */
  public long storeBytesPerRow(GradientSpace space, int idChars) {
    long d = storedFloatsPerRow(space);
    return 4 * d + 4 + idChars + 4;
  }

  /** Forward GEMM FLOPs of one batch of {@code batch} sequences padded to {@code seqLen} tokens. */
  public long forwardFlops(int batch, int seqLen) {
    long n = (long) batch * seqLen;
    long f = 2L * vocab * hidden * n;
    for (Linear x : linears) {
      f += 2L * x.dOut() * x.cols() * n;
      if (x.loraRank() > 0) {
        f += 2L * x.loraRank() * x.dIn() * n + 2L * x.dOut() * x.loraRank() * n;
      }
    }
    f += blocks() * 4L * batch * heads * (long) seqLen * seqLen * headSize;
    return f;
  }

  /** Backward GEMM FLOPs of the same batch when only output gradients are needed (no parameter gradients). */
  public long backwardFlops(int batch, int seqLen) {
    long n = (long) batch * seqLen;
    long f = 2L * vocab * hidden * n;
    for (Linear x : linears) {
      boolean inputGradient = !(x.block() == 0 && x.blockInput());
      if (inputGradient) {
        f += 2L * x.dIn() * x.dOut() * n;
      }
      if (x.loraRank() > 0) {
        f += 2L * x.loraRank() * x.dOut() * n + (inputGradient ? 2L * x.dIn() * x.loraRank() * n : 0);
      }
    }
    f += blocks() * 8L * batch * heads * (long) seqLen * seqLen * headSize;
    return f;
  }

  /**
   * GEMM FLOPs of the per-example products of one batch: full {@code g aᵀ} per example, or the two projections over
   * all {@code batch·seqLen} positions and one {@code [kOut, len]·[len, kIn]} product per example.
   *
   * @param tokens {@code Σ len_b}, the real tokens of the batch
   */
  public long perExampleFlops(int batch, int seqLen, long tokens, GradientSpace space) {
    long n = (long) batch * seqLen;
    long f = 0;
    for (Tracked t : tracked) {
      if (space.projected()) {
        f += 2L * space.kIn() * t.cols() * n + 2L * space.kOut() * t.dOut() * n
            + 2L * space.kOut() * space.kIn() * tokens;
      } else {
        f += 2L * t.dOut() * t.cols() * tokens;
      }
    }
    return f;
  }

  /** Everything one extract batch runs: {@link #forwardFlops} + {@link #backwardFlops} + {@link #perExampleFlops}. */
  public long passFlops(int batch, int seqLen, long tokens, GradientSpace space) {
    return forwardFlops(batch, seqLen) + backwardFlops(batch, seqLen) + perExampleFlops(batch, seqLen, tokens, space);
  }

  /**
   * One covariance-pass batch (fit-ekfac): forward and backward, then per real token and layer the projection of the
   * token factors (when projected) and the two outer-product sums {@code aaᵀ, ggᵀ} of the stored space.
   */
  public long covarianceFlops(int batch, int seqLen, long tokens, GradientSpace space) {
    long f = forwardFlops(batch, seqLen) + backwardFlops(batch, seqLen);
    for (Tracked t : tracked) {
      long kIn = space.projected() ? space.kIn() : t.cols();
      long kOut = space.projected() ? space.kOut() : t.dOut();
      if (space.projected()) {
        f += 2L * tokens * (kIn * t.cols() + kOut * t.dOut());
      }
      f += 2L * tokens * (kIn * kIn + kOut * kOut);
    }
    return f;
  }

  /** Eigendecomposition of every layer's two factors, ≈ {@code 9·n³} each (an order of magnitude). */
  public long eigenFlops(GradientSpace space) {
    long f = 0;
    for (Tracked t : tracked) {
      long kIn = space.projected() ? space.kIn() : t.cols();
      long kOut = space.projected() ? space.kOut() : t.dOut();
      f += 9 * (kIn * kIn * kIn + kOut * kOut * kOut);
    }
    return f;
  }

  /** Eigenvalue correction of one stored row, {@code Σ 2·kOut²·kIn + 2·kOut·kIn²} over the layers. */
  public long correctionFlopsPerRow(GradientSpace space) {
    long f = 0;
    for (Tracked t : tracked) {
      long kIn = space.projected() ? space.kIn() : t.cols();
      long kOut = space.projected() ? space.kOut() : t.dOut();
      f += 2 * kOut * kOut * kIn + 2 * kOut * kIn * kIn;
    }
    return f;
  }

  /** Scoring {@code queries} against {@code rows} stored rows at one checkpoint: {@code 2·Q·R·D}. */
  public long scoreFlops(long queries, long rows, GradientSpace space) {
    return 2L * queries * rows * storedFloatsPerRow(space);
  }

  /** One Gauss-Newton Hessian-vector product over a batch, ≈ 5 forward passes (see the class comment). */
  public long hvpFlops(int batch, int seqLen) {
    return 5 * forwardFlops(batch, seqLen);
  }

  /**
   * Bytes one Spark task holds at its peak while extracting (float32): {@code M = 4·P + A + G + W}, with
   * <ul>
   *   <li>{@code P} the parameters ({@link #parameterCount});
   *   <li>{@code A} the activations the model keeps for backward, per block about {@code (4·C + 2·(Σ dOut of the
   *       block's linears) + 2·(Σ cols)) · N} floats plus {@code 2·B·H·T²} attention probabilities, plus the logits
   *       {@code 2·V·N} (values and gradient), {@code N = B·T};
   *   <li>{@code G} the per-example gradients of the batch: {@code B·D} floats (projected: plus the projected factors
   *       {@code (kIn + kOut)·N} per layer; full: the {@code B·Σ dOut·cols} buffer is the same {@code B·D});
   *   <li>{@code W} the rows of the batch as Spark rows (another {@code B·D} floats) before they are written.
   * </ul>
   * An estimate of the arrays ND4J allocates (most of them off the Java heap), not a measurement.
   */
  public long extractTaskBytes(int batch, int seqLen, GradientSpace space) {
    long n = (long) batch * seqLen;
    long act = 2L * vocab * n;
    for (int b = 0; b < blocks(); b++) {
      long outs = 0;
      long ins = 0;
      for (Linear x : linears) {
        if (x.block() == b) {
          outs += x.dOut();
          ins += x.cols();
        }
      }
      act += (4L * hidden + 2 * outs + 2 * ins) * n + 2L * batch * heads * (long) seqLen * seqLen;
    }
    long d = storedFloatsPerRow(space);
    long g = (long) batch * d;
    if (space.projected()) {
      g += (long) tracked.size() * (space.kIn() + space.kOut()) * n;
    }
    return 4 * (parameters + act + g + (long) batch * d);
  }

  /**
   * Bytes one score task holds (float32 stored rows, float64 scores): a block of {@code blockRows} stored rows as
   * read ({@code blockRows·D}, twice: Parquet's arrays and the GEMM operand), the preconditioned queries of every
   * checkpoint ({@code checkpoints·Q·D}), and the score block {@code blockRows·Q} in float64.
   */
  public long scoreTaskBytes(int blockRows, long queries, int checkpoints, GradientSpace space) {
    long d = storedFloatsPerRow(space);
    return 4 * (2L * blockRows * d + (long) checkpoints * queries * d) + 8L * blockRows * queries;
  }

  private int blocks() {
    int max = -1;
    for (Linear x : linears) {
      max = Math.max(max, x.block());
    }
    return max + 1;
  }
}
