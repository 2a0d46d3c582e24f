package io.influence.core.model;

import io.influence.core.grad.TokenFactors;
import io.influence.core.score.LayerLayout;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Seeded Gaussian Kronecker projection of one layer's gradient (TRAK; LoGra, Choe et al. 2024).
 *
 * <p>{@code P_in} is {@code [kIn, dIn]} and {@code P_out} is {@code [kOut, dOut]}, entries
 * i.i.d. {@code N(0, 1/k)} for their own {@code k}, so {@code E[Pᵀ P] = I} and inner products of
 * projected gradients are unbiased estimates of the full ones. {@code dIn} counts the trailing
 * ones column of the token factors when the layer has a bias (GPT-2's Conv1D: {@code dIn = in + 1}).
 * The projected gradient is {@code P_out G P_inᵀ = Σ_t (P_out g_t)(P_in a_t)ᵀ}, computed as two
 * skinny GEMMs over tokens and one {@code [kOut, T]·[T, kIn]} GEMM, never forming {@code G}.
 *
 * <p>Determinism: the entries depend only on {@code (seed, layer, side)}: the stream seed is the
 * first 8 bytes of SHA-256 over {@code seed, layer name, "in"/"out"}, and the values come from
 * {@link java.util.Random#nextGaussian()} (an algorithm fixed by its specification), generated in
 * float64 in column-major order and then rounded to the requested data type. Separate processes
 * and machines therefore build the same matrices.
 *
 * <p>A gradient store records only the seed and each layer's stored {@code [kOut, kIn]} shape; {@link #forLayers}
 * rebuilds its projections from that and the model's full shapes, the one way every stage does so.
 *
 * <p>{@link #of} wraps given matrices instead: the principal projection ({@code extract.projection.basis =
 * principal}, LoGra's PCA initialisation) whose rows are the top eigenvectors of each layer's activation and
 * output-gradient covariances, fitted on the corpus and kept beside the store.
 */
public final class KroneckerProjection {

  private final String layer;
  private final Long seed;   // null for given (principal) matrices
  private final INDArray pIn;   // 'f' [kIn, dIn]
  private final INDArray pOut;  // 'f' [kOut, dOut]

  private KroneckerProjection(String layer, Long seed, INDArray pIn, INDArray pOut) {
    this.layer = layer;
    this.seed = seed;
    this.pIn = pIn;
    this.pOut = pOut;
  }

  /**
   * @param dIn  columns of the layer's token factor {@code a} (including the ones column)
   * @param dOut columns of {@code g}
   */
  public static KroneckerProjection create(String layer, int dIn, int dOut, int kIn, int kOut, long seed, DataType dataType) {
    if (dIn <= 0 || dOut <= 0 || kIn <= 0 || kOut <= 0) {
      throw new IllegalArgumentException("layer " + layer + ": projection sizes must be positive, got dIn=" + dIn
          + " dOut=" + dOut + " kIn=" + kIn + " kOut=" + kOut);
    }
    if (dataType != DataType.FLOAT && dataType != DataType.DOUBLE) {
      throw new IllegalArgumentException("layer " + layer + ": data type must be FLOAT or DOUBLE, got " + dataType);
    }
    return new KroneckerProjection(layer, seed, gaussian(streamSeed(seed, layer, "in"), kIn, dIn, dataType),
        gaussian(streamSeed(seed, layer, "out"), kOut, dOut, dataType));
  }

  /**
   * A projection with given matrices (copied): {@code pIn [kIn, dIn]}, {@code pOut [kOut, dOut]}, both FLOAT or both
   * DOUBLE, every value finite.
   */
  public static KroneckerProjection of(String layer, INDArray pIn, INDArray pOut) {
    if (pIn.rank() != 2 || pOut.rank() != 2 || pIn.rows() < 1 || pOut.rows() < 1 || pIn.columns() < pIn.rows()
        || pOut.columns() < pOut.rows()) {
      throw new IllegalArgumentException("layer " + layer + ": projection matrices must be [k, d] with 1 <= k <= d, got "
          + Arrays.toString(pIn.shape()) + " and " + Arrays.toString(pOut.shape()));
    }
    if (pIn.dataType() != pOut.dataType() || (pIn.dataType() != DataType.FLOAT && pIn.dataType() != DataType.DOUBLE)) {
      throw new IllegalArgumentException("layer " + layer + ": projection matrices must both be FLOAT or both DOUBLE, got "
          + pIn.dataType() + " and " + pOut.dataType());
    }
    for (INDArray m : new INDArray[] {pIn, pOut}) {
      if (!Double.isFinite(m.castTo(DataType.DOUBLE).norm2Number().doubleValue())) {   // NaN or ∞ anywhere
        throw new IllegalArgumentException("layer " + layer + ": projection matrix holds a non-finite value");
      }
    }
    return new KroneckerProjection(layer, null, pIn.dup('f'), pOut.dup('f'));
  }

  /**
   * The projections a set of stored gradients was (or is to be) made with, one per layer in {@code stored}'s order.
   *
   * @param stored    layer order and each layer's stored gradient shape {@code [rows, cols] = [kOut, kIn]} (a gradient
   *                  store's layout)
   * @param fullShape each layer's full gradient shape {@code {dOut, dIn}}, bias column included
   *                  (e.g. {@code Gpt2Model::linearShape})
   * @param seed      the projection seed, or null for full (unprojected) gradients
   * @param dataType  FLOAT or DOUBLE
   * @return layer to projection, in {@code stored}'s order (unmodifiable); empty when {@code seed} is null, after
   *         checking that every stored shape equals the full one
   * @throws IllegalArgumentException when a full store's shapes differ from the model's, or sizes are not positive
   */
  public static Map<String, KroneckerProjection> forLayers(LayerLayout stored, Function<String, int[]> fullShape,
      Long seed, DataType dataType) {
    Map<String, KroneckerProjection> out = new LinkedHashMap<>();
    for (String layer : stored.layers()) {
      long[] k = stored.shape(layer);
      int[] d = fullShape.apply(layer);
      if (seed != null) {
        out.put(layer, create(layer, d[1], d[0], (int) k[1], (int) k[0], seed, dataType));
      } else if (d[0] != k[0] || d[1] != k[1]) {
        throw new IllegalArgumentException("layer '" + layer + "' has gradients [" + d[0] + ", " + d[1]
            + "] but the store holds [" + k[0] + ", " + k[1] + "] without a projection."
            + " HINT: the store was extracted from another model; re-extract");
      }
    }
    return Collections.unmodifiableMap(out);
  }

  private static INDArray gaussian(long streamSeed, int k, int d, DataType dataType) {
    Random rnd = new Random(streamSeed);
    double scale = 1.0 / Math.sqrt(k);
    double[] v = new double[k * d];
    for (int i = 0; i < v.length; i++) {
      v[i] = rnd.nextGaussian() * scale;
    }
    return Nd4j.create(v, new long[] {k, d}, 'f').castTo(dataType);
  }

  static long streamSeed(long seed, String layer, String side) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      byte[] s = new byte[8];
      for (int i = 0; i < 8; i++) {
        s[i] = (byte) (seed >>> (56 - 8 * i));
      }
      md.update(s);
      md.update(layer.getBytes(StandardCharsets.UTF_8));
      md.update((byte) 0);
      md.update(side.getBytes(StandardCharsets.UTF_8));
      byte[] h = md.digest();
      long r = 0;
      for (int i = 0; i < 8; i++) {
        r = (r << 8) | (h[i] & 0xff);
      }
      return r;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 unavailable", e);
    }
  }

  public String layer() {
    return layer;
  }

  /** The seed of a seeded (Gaussian) projection; empty for given matrices ({@link #of}). */
  public java.util.OptionalLong seed() {
    return seed == null ? java.util.OptionalLong.empty() : java.util.OptionalLong.of(seed);
  }

  public int kIn() {
    return (int) pIn.rows();
  }

  public int kOut() {
    return (int) pOut.rows();
  }

  public int dIn() {
    return (int) pIn.columns();
  }

  public int dOut() {
    return (int) pOut.columns();
  }

  public DataType dataType() {
    return pIn.dataType();
  }

  /** {@code P_in}, {@code [kIn, dIn]} (a copy). */
  public INDArray pIn() {
    return pIn.dup('f');
  }

  /** {@code P_out}, {@code [kOut, dOut]} (a copy). */
  public INDArray pOut() {
    return pOut.dup('f');
  }

  /** The same projection with its matrices cast to {@code dataType} (FLOAT or DOUBLE): values rounded once, not redrawn. */
  public KroneckerProjection withDataType(DataType dataType) {
    if (dataType != DataType.FLOAT && dataType != DataType.DOUBLE) {
      throw new IllegalArgumentException("layer " + layer + ": data type must be FLOAT or DOUBLE, got " + dataType);
    }
    return dataType == pIn.dataType() ? this
        : new KroneckerProjection(layer, seed, pIn.castTo(dataType).dup('f'), pOut.castTo(dataType).dup('f'));
  }

  INDArray pInView() {
    return pIn;
  }

  INDArray pOutView() {
    return pOut;
  }

  /** {@code Σ_t (P_out g_t)(P_in a_t)ᵀ}, {@code [kOut, kIn]}. */
  public INDArray project(TokenFactors f) {
    check(f.layer(), f.dIn(), f.dOut(), f.a().dataType());
    int t = f.tokens();
    INDArray at = f.a().transpose();  // [dIn, T]; column-major when a is 'c'
    INDArray gt = f.g().transpose();
    if (at.stride(0) != 1) {
      at = f.a().dup('c').transpose();
    }
    if (gt.stride(0) != 1) {
      gt = f.g().dup('c').transpose();
    }
    INDArray pa = Nd4j.create(pIn.dataType(), new long[] {kIn(), t}, 'f');
    INDArray pg = Nd4j.create(pIn.dataType(), new long[] {kOut(), t}, 'f');
    Blas.gemm(pIn, false, at, false, pa, 1, 0);
    Blas.gemm(pOut, false, gt, false, pg, 1, 0);
    INDArray out = Nd4j.create(pIn.dataType(), new long[] {kOut(), kIn()}, 'f');
    Blas.gemm(pg, false, pa, true, out, 1, 0);
    return out;
  }

  /**
   * The projected token factors {@code (a P_inᵀ [T, kIn], g P_outᵀ [T, kOut])}: their {@code gᵀ a} is
   * {@link #project}'s {@code [kOut, kIn]}, and token {@code t}'s rows give its share of it.
   */
  public TokenFactors projectTokens(TokenFactors f) {
    check(f.layer(), f.dIn(), f.dOut(), f.a().dataType());
    return new TokenFactors(layer, times(f.a(), pIn), times(f.g(), pOut));
  }

  /** {@code x Pᵀ}: {@code [T, d] · [k, d]ᵀ → [T, k]} into a new 'f' array. */
  private static INDArray times(INDArray x, INDArray p) {
    INDArray out = Nd4j.create(x.dataType(), new long[] {x.rows(), p.rows()}, 'f');
    Nd4j.gemm(x, p, out, false, true, 1.0, 0.0);
    return out;
  }

  /** {@code P_out G P_inᵀ} of a full {@code [dOut, dIn]} gradient, {@code [kOut, kIn]}. */
  public INDArray projectGradient(INDArray g) {
    if (g.rank() != 2) {
      throw new IllegalArgumentException("layer " + layer + ": gradient must be [dOut, dIn], got " + Arrays.toString(g.shape()));
    }
    check(layer, (int) g.columns(), (int) g.rows(), g.dataType());
    INDArray gf = g.stride(0) == 1 ? g : g.dup('f');
    INDArray tmp = Nd4j.create(pIn.dataType(), new long[] {kOut(), dIn()}, 'f');
    Blas.gemm(pOut, false, gf, false, tmp, 1, 0);
    INDArray out = Nd4j.create(pIn.dataType(), new long[] {kOut(), kIn()}, 'f');
    Blas.gemm(tmp, false, pIn, true, out, 1, 0);
    return out;
  }

  private void check(String name, int dIn, int dOut, DataType dt) {
    if (!layer.equals(name) || dIn != dIn() || dOut != dOut() || dt != pIn.dataType()) {
      throw new IllegalArgumentException("projection for layer " + layer + " expects dIn=" + dIn() + ", dOut=" + dOut()
          + ", " + pIn.dataType() + " but got layer " + name + " with dIn=" + dIn + ", dOut=" + dOut + ", " + dt
          + "; HINT: build one projection per layer with that layer's sizes (Gpt2Model.linearShape)");
    }
  }
}
