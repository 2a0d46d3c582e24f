package io.influence.spark.report;

import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.grad.AdamScaling;
import io.influence.core.grad.TokenFactors;
import io.influence.core.model.CausalLm;
import io.influence.core.model.GradientRequest;
import io.influence.core.model.KroneckerProjection;
import io.influence.core.model.TokenBatch;
import io.influence.core.score.LayerLayout;
import io.influence.core.score.TokenAttribution;
import io.influence.spark.io.Queries;
import io.influence.spark.extract.ExtractJob;
import io.influence.spark.score.QueryGradientFile;
import io.influence.spark.store.OptimizerPreconditioning;
import io.influence.spark.store.StoreMetadata;
import io.influence.spark.store.StoreProjections;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Token-level contributions of a training sequence to a query's score, recomputed on the driver
 * from the query gradients the score stage saved ({@link QueryGradientFile}: preconditioned by its
 * method, with its checkpoint weights), so they hold for TracIn, EK-FAC, CG and LiSSA alike.
 *
 * <p>A tracked linear layer's per-example gradient is {@code G = Σ_t g_t a_tᵀ} over the sequence's
 * positions t ({@code a_t} the layer input with a trailing 1 for the bias, {@code g_t} the gradient
 * of the sequence loss with respect to the layer output at t). In the store's projected space
 * {@code P_out G P_inᵀ = Σ_t (P_out g_t)(P_in a_t)ᵀ}, so the score
 * {@code Σ_i w_i Σ_l ⟨Q_il, P_out G_il P_inᵀ⟩} ({@code Q_il} the scored, preconditioned query
 * gradient; {@code w_i} the learning rate for TracIn, 1 for the influence-function methods) splits
 * exactly into per-position terms
 * <pre>  c_t = Σ_i w_i Σ_l (P_out g_t)ᵀ Q_il (P_in a_t)</pre>
 * with {@code Σ_t c_t = score} (up to the float32 rounding of the stored gradients). Position t is
 * shown on token {@code x_t}, the input at that position (its row of the token factors); the term
 * mixes the prediction of {@code x_{t+1}} with what later positions read from t through attention.
 * Without a projection ({@code P = I}) the same formula uses {@code g_t} and {@code a_t}. From an Adam store
 * (rows {@code P_out (G ⊘ D) P_inᵀ}, {@code D = √v̂ + ε}, extract.optimizer-preconditioning = adam) the term is
 * {@code g_tᵀ [(P_outᵀ Q_il P_in) ⊘ D] a_t} and the row norm that of the scaled, projected {@code gᵀ a}.
 *
 * <p>With unit-normalised scores ({@link QueryGradientFile.Scored#unit}, TracIn's default) checkpoint i's terms are
 * divided by {@code ‖Q_i‖ ‖P_out G_i P_inᵀ‖} (norms over every stored layer; the row's from its factors, as
 * {@code Σ_l ‖g_lᵀ a_l‖²} of the projected factors), so that they add up to the cosine score.
 *
 * <p>Numerics: the model runs in float32 like the extract stage (the factors then agree with the
 * stored gradients to float32 rounding); the projections are the store's float32 matrices, and the products
 * (influence-core's {@link TokenAttribution}) and the sums over layers and checkpoints are done in float64.
 */
public final class TokenContributions {

  /** A checkpoint of the gradient store: where its weights are and the store's metadata for it. */
  public record At(RunCheckpoint checkpoint, StoreMetadata meta) {}

  private TokenContributions() {}

  /**
   * @param sequences training sequences by id (their token ids, as the extract stage used them)
   * @param pairs     per query id, the training ids whose contributions are wanted
   * @return per query id, per training id, one contribution per token
   */
  public static Map<String, Map<String, double[]>> compute(List<Queries.Query> queries, List<At> checkpoints,
                                                           QueryGradientFile.Scored scored,
                                                           Map<String, int[]> sequences,
                                                           Map<String, Set<String>> pairs) {
    Map<String, Map<String, double[]>> out = new LinkedHashMap<>();
    for (Queries.Query q : queries) {
      Map<String, double[]> row = new LinkedHashMap<>();
      for (String id : pairs.getOrDefault(q.id(), Set.of())) {
        int[] tokens = sequences.get(id);
        if (tokens == null) {
          throw new IllegalArgumentException("no tokens for training sequence " + id + " (wanted by query " + q.id()
              + "). HINT: pass every kept training sequence's input_ids");
        }
        row.put(id, new double[tokens.length]);
      }
      out.put(q.id(), row);
    }
    for (At at : checkpoints) {
      accumulate(queries, at, scored, sequences, out);
    }
    return out;
  }

  private static void accumulate(List<Queries.Query> queries, At at, QueryGradientFile.Scored scored,
                                 Map<String, int[]> sequences, Map<String, Map<String, double[]>> out) {
    StoreMetadata meta = at.meta();
    CausalLm model;
    try {
      model = CausalLm.load(at.checkpoint().dir(), DataType.FLOAT);
    } catch (CheckpointFormatException e) {
      throw new IllegalStateException("cannot load checkpoint " + at.checkpoint().dir() + ": " + e.getMessage(), e);
    }
    List<String> layers = meta.layerNames();
    LayerLayout stored = meta.layout();
    // the extract stage's float32 matrices, cast once to float64: the products below run in float64
    Map<String, KroneckerProjection> projections = new HashMap<>();
    StoreProjections.of(meta, model::linearShape, DataType.FLOAT)
        .forEach((layer, p) -> projections.put(layer, p.withDataType(DataType.DOUBLE)));
    Map<String, List<Integer>> wantedBy = new LinkedHashMap<>();
    for (int i = 0; i < queries.size(); i++) {
      for (String id : out.get(queries.get(i).id()).keySet()) {
        wantedBy.computeIfAbsent(id, k -> new ArrayList<>()).add(i);
      }
    }
    // an Adam store: rows are P_out (G ⊘ D) P_inᵀ with D = √v̂ + ε, so token t contributes g_tᵀ Q̃ a_t with the query
    // lifted to Q̃ = (P_outᵀ Q P_in) ⊘ D; the same state the extract stage used (its sha256 is checked)
    AdamScaling adam = meta.optimizerPreconditioning() == OptimizerPreconditioning.NONE ? null
        : ExtractJob.adamScaling(model, layers, at.checkpoint().dir(), meta.optimizerSha256(),
            "extract.optimizer-preconditioning");
    GradientRequest request = GradientRequest.perExampleTokenFactors().withTrackedLayers(layers);
    double rate = scored.weight(meta.checkpoint());
    // unit-normalised scores: each query's norm over every layer of this checkpoint
    double[] queryNorm = new double[queries.size()];
    if (scored.unit()) {
      for (int qi = 0; qi < queries.size(); qi++) {
        queryNorm[qi] = norm(queries.get(qi).id(), meta.checkpoint(), layers, scored);
      }
    }
    for (Map.Entry<String, List<Integer>> e : wantedBy.entrySet()) {
      int[] tokens = sequences.get(e.getKey());
      Map<String, TokenFactors> factors = model.gradients(TokenBatch.of(tokens), request).tokenFactors().get(0);
      Map<Integer, double[]> terms = new LinkedHashMap<>();   // query index → this checkpoint's per-token terms
      e.getValue().forEach(qi -> terms.put(qi, new double[tokens.length]));
      double rowSquares = 0;
      for (String layer : layers) {
        TokenFactors f = factors.get(layer);
        f = new TokenFactors(layer, f.a().castTo(DataType.DOUBLE), f.g().castTo(DataType.DOUBLE));
        KroneckerProjection p = projections.get(layer);
        INDArray inverse = adam == null ? null : adam.factors(layer).castTo(DataType.DOUBLE);   // 1 / (√v̂ + ε)
        TokenFactors projected = adam != null ? f : p == null ? f : p.projectTokens(f);  // a [T, kIn], g [T, kOut]
        if (scored.unit()) {   // the row's stored gradient of this layer is Σ_t g_t a_tᵀ = gᵀ a (Adam: scaled, projected)
          INDArray row = projected.g().transpose().mmul(projected.a());
          if (adam != null) {
            row.muli(inverse);
            row = p == null ? row : p.projectGradient(row);
          }
          double n = row.norm2Number().doubleValue();
          rowSquares += n * n;
        }
        for (int qi : e.getValue()) {
          float[] flat = scored.gradient(queries.get(qi).id(), meta.checkpoint(), layer);
          INDArray ql = Nd4j.createFromArray(flat).reshape(stored.shape(layer));
          if (adam != null) {
            INDArray q = ql.castTo(DataType.DOUBLE);
            ql = (p == null ? q.dup() : p.pOut().transpose().mmul(q).mmul(p.pIn())).muli(inverse);
          }
          double[] perToken = TokenAttribution.perToken(e.getKey(), projected, ql);
          double[] target = terms.get(qi);
          for (int t = 0; t < target.length; t++) {
            target[t] += perToken[t];
          }
        }
      }
      for (Map.Entry<Integer, double[]> q : terms.entrySet()) {
        // cosines: a zero gradient scores 0 against everything, as in the score stage (UnitNorm)
        double scale = !scored.unit() ? rate
            : rowSquares > 0 && queryNorm[q.getKey()] > 0 ? rate / (Math.sqrt(rowSquares) * queryNorm[q.getKey()]) : 0;
        double[] target = out.get(queries.get(q.getKey()).id()).get(e.getKey());
        for (int t = 0; t < target.length; t++) {
          target[t] += scale * q.getValue()[t];
        }
      }
    }
  }

  /** The Euclidean norm of a query's scored gradient over {@code layers} at {@code checkpoint}, in float64. */
  static double norm(String queryId, String checkpoint, List<String> layers, QueryGradientFile.Scored scored) {
    double ss = 0;
    for (String layer : layers) {
      for (float v : scored.gradient(queryId, checkpoint, layer)) {
        ss += (double) v * v;
      }
    }
    return Math.sqrt(ss);
  }
}
