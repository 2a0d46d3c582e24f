package io.influence.spark.flag;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.grad.TokenFactors;
import io.influence.core.model.CausalLm;
import io.influence.core.model.GradientRequest;
import io.influence.core.model.KroneckerProjection;
import io.influence.core.model.TokenBatch;
import io.influence.core.score.LayerLayout;
import io.influence.core.score.TokenAttribution;
import io.influence.spark.extract.ExecutorModels;
import io.influence.spark.io.Runs;
import io.influence.spark.store.OptimizerPreconditioning;
import io.influence.spark.store.StoreMetadata;
import io.influence.spark.store.StoreProjections;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The flag aggregates with {@code flag.span = positive-tokens}: every training sequence's score against each
 * example split into one term per position, and only the positive terms counted.
 *
 * <p>A tracked layer's stored gradient is {@code P_out (Σ_t g_t a_tᵀ) P_inᵀ} over the sequence's positions, so the
 * normalised score {@code ŝ_e(z) = Σ_i Σ_l ⟨Q_eil, P_out G_il P_inᵀ⟩} (Q the example's row of the weighted, unit-norm
 * example matrix of {@link FlagJob}: checkpoint i's block, layer l's matrix) is exactly {@code Σ_t c_t} with
 * <pre>  c_t = Σ_i s_i Σ_l (P_out g_til)ᵀ Q_eil (P_in a_til)</pre>
 * ({@code s_i = 1}, or with unit-normalised gradients one over the norm of the row's checkpoint-i gradient,
 * computed from the same factors), the decomposition the report shows as token contributions. The span score is
 * {@code Σ_t max(0, c_t)}: the largest score of any subset of the positions. The mean and the max over the examples
 * and the strongest example are what {@link FlagJob} ranks, as for whole sequences.
 *
 * <p>Each executor recomputes the factors with the checkpoint's model (float32, as extract; the products in float64),
 * one sequence at a time: one forward/backward pass per sequence and checkpoint. The driver sees one row per
 * sequence.
 */
public final class TokenFlag {

  static final StructType AGGREGATES = new StructType()
      .add("train_id", DataTypes.StringType, false)
      .add("mean", DataTypes.DoubleType, false)
      .add("max", DataTypes.DoubleType, false)
      .add("strongest_example", DataTypes.StringType, false);

  private TokenFlag() {}

  /**
   * @param rows        the tokenised corpus, {@code (id, tokens)}, as extract used it
   * @param checkpoints the scored checkpoints, in the order of {@code metas} and of the example matrix's blocks
   * @param metas       the store's metadata of each (layers, projection)
   * @param exampleIds  example ids, the example matrix's rows
   * @param unitRows    the example matrix {@code [E, C·dim]} row-major (weights folded in, rows of norm 1)
   * @param unit        unit-normalised training gradients (each checkpoint's part at norm 1)
   */
  static Dataset<Row> aggregates(SparkSession spark, Dataset<Row> rows, List<RunCheckpoint> checkpoints,
      List<StoreMetadata> metas, String[] exampleIds, double[] unitRows, boolean unit) {
    requireUsable(metas);
    List<String> locations = new ArrayList<>();
    List<String> hashes = new ArrayList<>();
    for (RunCheckpoint c : checkpoints) {
      locations.add(Runs.location(c));
      hashes.add(c.sha256());
    }
    int dim = metas.get(0).dim();
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    Broadcast<double[]> examples = jsc.broadcast(unitRows);
    List<StoreMetadata> metaList = List.copyOf(metas);
    String[] ids = exampleIds.clone();
    return spark.createDataFrame(rows.select("id", "tokens").javaRDD().mapPartitions(it -> {
      Partition p = new Partition(locations, hashes, metaList, ids, examples.value(), dim, unit);
      List<Row> out = new ArrayList<>();
      while (it.hasNext()) {
        Row r = it.next();
        out.add(p.aggregate(r.getString(0), tokensOf(r)));
      }
      return out.iterator();
    }), AGGREGATES);
  }

  /**
   * Fails naming the setting when a checkpoint's stored gradients are ones the per-position terms cannot reproduce
   * (Adam-preconditioned: the factors' terms would need the optimizer state); the flag stage calls it before any work.
   */
  public static void requireUsable(List<StoreMetadata> metas) {
    for (StoreMetadata m : metas) {
      if (m.optimizerPreconditioning() != OptimizerPreconditioning.NONE) {
        throw new IllegalArgumentException("influence.flag.span = \"positive-tokens\" cannot use checkpoint '"
            + m.checkpoint() + "' of a store extracted with extract.optimizer-preconditioning = adam. HINT: set"
            + " flag.span = \"sequence\", or extract the store with extract.optimizer-preconditioning = none");
      }
    }
  }

  private static int[] tokensOf(Row r) {
    List<Integer> list = r.getList(1);
    int[] t = new int[list.size()];
    for (int i = 0; i < t.length; i++) {
      t[i] = list.get(i);
    }
    return t;
  }

  /** What a partition builds once: the models, projections and each example's matrices. */
  private static final class Partition {
    private final List<CausalLm> models = new ArrayList<>();
    private final List<Map<String, KroneckerProjection>> projections = new ArrayList<>();
    private final List<GradientRequest> requests = new ArrayList<>();
    private final List<List<String>> layers = new ArrayList<>();
    private final INDArray[][][] queries;   // [checkpoint][layer][example] in the store's space, float64
    private final String[] exampleIds;
    private final boolean unit;

    Partition(List<String> locations, List<String> hashes, List<StoreMetadata> metas, String[] exampleIds,
        double[] unitRows, int dim, boolean unit) {
      this.exampleIds = exampleIds;
      this.unit = unit;
      int width = metas.size() * dim;
      queries = new INDArray[metas.size()][][];
      for (int i = 0; i < metas.size(); i++) {
        CausalLm model = ExecutorModels.model(locations.get(i), hashes.get(i));
        StoreMetadata meta = metas.get(i);
        LayerLayout layout = meta.layout();
        Map<String, KroneckerProjection> p = new HashMap<>();
        StoreProjections.of(meta, model::linearShape, DataType.FLOAT)
            .forEach((layer, k) -> p.put(layer, k.withDataType(DataType.DOUBLE)));
        models.add(model);
        projections.add(p);
        List<String> names = meta.layerNames();
        layers.add(names);
        requests.add(GradientRequest.perExampleTokenFactors().withTrackedLayers(names));
        queries[i] = new INDArray[names.size()][exampleIds.length];
        for (int l = 0; l < names.size(); l++) {
          long[] shape = layout.shape(names.get(l));
          int offset = i * dim + layout.offset(names.get(l));
          int size = layout.size(names.get(l));
          for (int e = 0; e < exampleIds.length; e++) {
            double[] block = new double[size];
            System.arraycopy(unitRows, e * width + offset, block, 0, size);
            queries[i][l][e] = Nd4j.createFromArray(block).reshape(shape[0], shape[1]);
          }
        }
      }
    }

    Row aggregate(String id, int[] tokens) {
      int ne = exampleIds.length;
      double[][] terms = new double[ne][tokens.length];
      for (int i = 0; i < models.size(); i++) {
        Map<String, TokenFactors> factors = models.get(i).gradients(TokenBatch.of(tokens), requests.get(i))
            .tokenFactors().get(0);
        double[][] part = new double[ne][tokens.length];
        double rowSquares = 0;
        List<String> names = layers.get(i);
        for (int l = 0; l < names.size(); l++) {
          TokenFactors f = factors.get(names.get(l));
          f = new TokenFactors(f.layer(), f.a().castTo(DataType.DOUBLE), f.g().castTo(DataType.DOUBLE));
          KroneckerProjection k = projections.get(i).get(names.get(l));
          TokenFactors projected = k == null ? f : k.projectTokens(f);
          if (unit) {
            double n = projected.g().transpose().mmul(projected.a()).norm2Number().doubleValue();
            rowSquares += n * n;
          }
          for (int e = 0; e < ne; e++) {
            double[] perToken = TokenAttribution.perToken(id, projected, queries[i][l][e]);
            for (int t = 0; t < perToken.length; t++) {
              part[e][t] += perToken[t];
            }
          }
        }
        // cosines: a zero gradient scores 0 against everything, as in the score stage (UnitNorm)
        double scale = !unit ? 1 : rowSquares > 0 ? 1 / Math.sqrt(rowSquares) : 0;
        for (int e = 0; e < ne; e++) {
          for (int t = 0; t < tokens.length; t++) {
            terms[e][t] += scale * part[e][t];
          }
        }
      }
      double sum = 0;
      double max = Double.NEGATIVE_INFINITY;
      int strongest = 0;
      for (int e = 0; e < ne; e++) {
        double positive = 0;
        for (double c : terms[e]) {
          positive += Math.max(0, c);
        }
        if (!Double.isFinite(positive)) {
          throw new IllegalStateException("training sequence '" + id + "' against example '" + exampleIds[e]
              + "': a token term is not finite. HINT: check the checkpoint and the sequence's tokens");
        }
        sum += positive;
        if (positive > max) {
          max = positive;
          strongest = e;
        }
      }
      return RowFactory.create(id, sum / ne, max, exampleIds[strongest]);
    }
  }
}
