package io.influence.spark.representer;

import io.influence.core.model.CausalLm;
import io.influence.core.representer.RepresenterHead;
import io.influence.core.representer.RepresenterScorer;
import io.influence.core.representer.TokenFeatures;
import io.influence.core.tokenizer.PromptCompletion;
import io.influence.spark.extract.TokenizedCorpus;
import io.influence.spark.io.Corpus;
import io.influence.spark.io.Queries;
import io.influence.spark.method.QueryGradients;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Representer points for data cleaning: the per-sequence numbers the self-influence and flag stages rank, computed
 * from the same fitted head as the score stage's ({@link RepresenterJob.Fit}: the saved head is reused while its
 * fingerprint holds, fitted and saved otherwise) and the same float64 features, one pass over the corpus.
 *
 * <ul>
 *   <li>{@link #selfInfluence}: {@code Σ_{s ∈ z} α_s[y_s] ‖f_s‖²} per sequence ({@link RepresenterScorer#selfScores}),
 *       or that divided by the sequence's predicted tokens.</li>
 *   <li>{@link #flagAggregates}: the representer score of every sequence against each unwanted example,
 *       normalised by the norm of the example's target matrix ({@link RepresenterScorer#queryNorms}), reduced per
 *       sequence to the mean, the max and the example attaining it (the first on ties), as the flag stage does for
 *       the gradient methods.</li>
 * </ul>
 */
public final class RepresenterCleaning {

  /** {@code (train_id, score)}. */
  public static final StructType SCORED = new StructType().add("train_id", DataTypes.StringType, false)
      .add("score", DataTypes.DoubleType, false);

  /** {@code (train_id, mean, max, strongest_example)}, the flag stage's aggregates. */
  public static final StructType AGGREGATES = new StructType()
      .add("train_id", DataTypes.StringType, false)
      .add("mean", DataTypes.DoubleType, false)
      .add("max", DataTypes.DoubleType, false)
      .add("strongest_example", DataTypes.StringType, false);

  private RepresenterCleaning() {}

  /** What a pass produces from one block of sequences' features. */
  @FunctionalInterface
  private interface BlockRows extends java.io.Serializable {
    void add(List<SequenceFeatures> block, TokenFeatures features, RepresenterHead head, List<Row> out);
  }

  /** The fit's description (JSON) and the rows of one pass. */
  public record Pass(Dataset<Row> rows, String fit) {}

  /**
   * Self-influence rows {@link #SCORED} of every usable sequence of {@code corpus}; with {@code perToken} each score
   * is divided by the sequence's predicted tokens.
   */
  public static Pass selfInfluence(SparkSession spark, RepresenterJob.Fit fit, Path corpus, boolean perToken) {
    return pass(spark, fit, corpus, SCORED, (block, f, head, out) -> {
      double[] self = RepresenterScorer.selfScores(head, f, block.size());
      for (int i = 0; i < block.size(); i++) {
        SequenceFeatures s = block.get(i);
        out.add(RowFactory.create(s.id(), perToken ? self[i] / s.targets().length : self[i]));
      }
    });
  }

  /** Flag aggregates {@link #AGGREGATES} of every usable sequence against {@code examples} (read like queries). */
  public static Pass flagAggregates(SparkSession spark, RepresenterJob.Fit fit, Path corpus,
                                    List<Queries.Query> examples, int blockRows) {
    CausalLm model = RepresenterJob.driverModel(fit.checkpoint());
    List<PromptCompletion> encoded = QueryGradients.encode(examples, fit.checkpoint(), model);
    TokenFeatures queries = TokenFeatures.of(model, encoded.stream().map(PromptCompletion::tokens).toList(),
        encoded.stream().map(PromptCompletion::lossMask).toList(), fit.settings().batchSize());
    String[] ids = examples.stream().map(Queries.Query::id).toArray(String[]::new);
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    Broadcast<TokenFeatures> qb = jsc.broadcast(queries);
    try {
      return pass(spark, fit, corpus, AGGREGATES, blockRows, (block, f, head, out) -> {
        RepresenterScorer scorer = new RepresenterScorer(head, qb.value(), ids.length);
        double[] norms = scorer.queryNorms();
        double[][] s = scorer.scores(f, block.size());
        for (int i = 0; i < block.size(); i++) {
          double sum = 0;
          double max = Double.NEGATIVE_INFINITY;
          int strongest = 0;
          for (int e = 0; e < ids.length; e++) {
            double x = norms[e] > 0 ? s[i][e] / norms[e] : 0;
            sum += x;
            if (x > max) {
              max = x;
              strongest = e;
            }
          }
          out.add(RowFactory.create(block.get(i).id(), sum / ids.length, max, ids[strongest]));
        }
      });
    } finally {
      qb.destroy();
    }
  }

  private static Pass pass(SparkSession spark, RepresenterJob.Fit fit, Path corpus, StructType schema,
                           BlockRows rows) {
    return pass(spark, fit, corpus, schema, 256, rows);
  }

  /** Features (cached), the head (reused or fitted), then {@code rows} per block of sequences on the executors. */
  private static Pass pass(SparkSession spark, RepresenterJob.Fit fit, Path corpus, StructType schema, int blockRows,
                           BlockRows rows) {
    Dataset<Row> table = Corpus.read(spark, corpus, fit.badRows());
    TokenizedCorpus tokenized = TokenizedCorpus.prepare(spark, table, fit.checkpoint(), fit.badRows(),
        fit.longText());
    JavaRDD<SequenceFeatures> features = null;
    try {
      features = RepresenterJob.features(tokenized, fit);
      RepresenterJob.Fitted fitted = RepresenterJob.fit(spark, features, fit, Corpus.fingerprint(table));
      JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
      Broadcast<RepresenterHead> hb = jsc.broadcast(fitted.head());
      int d = fitted.head().dim();
      JavaRDD<Row> out = features.mapPartitions(it -> {
        List<Row> done = new ArrayList<>();
        RepresenterJob.inBlocks(it, blockRows, block -> rows.add(block, RepresenterJob.concat(block, d), hb.value(),
            done));
        return done.iterator();
      });
      Dataset<Row> result = spark.createDataFrame(out, schema).localCheckpoint();
      hb.destroy();
      return new Pass(result, fitted.description());
    } finally {
      if (features != null) {
        features.unpersist(false);
      }
      tokenized.release();
    }
  }
}
