package io.influence.spark.representer;

import static org.apache.spark.sql.functions.col;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.model.CausalLm;
import io.influence.core.representer.HeadFit;
import io.influence.core.representer.RepresenterHead;
import io.influence.core.representer.RepresenterScorer;
import io.influence.core.representer.TokenFeatures;
import io.influence.core.score.QueryHeaps;
import io.influence.core.score.TopK;
import io.influence.core.tokenizer.PromptCompletion;
import io.influence.spark.config.BadRows;
import io.influence.spark.config.LongText;
import io.influence.spark.config.RepresenterSettings;
import io.influence.spark.extract.ExecutorModels;
import io.influence.spark.extract.ExtractJob;
import io.influence.spark.extract.TokenizedCorpus;
import io.influence.spark.io.Corpus;
import io.influence.spark.io.Locations;
import io.influence.spark.io.Runs;
import io.influence.spark.method.QueryGradients;
import io.influence.spark.score.ScoreJob;
import io.influence.spark.store.PublishedFolder;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.nd4j.linalg.api.buffer.DataType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Representer points on Spark ({@code score.method = representer}), writing the score stage's rows
 * ({@link ScoreJob#SCHEMA} + text, {@code method = "representer"}) and folder layout.
 *
 * <ol>
 *   <li>Features: the corpus is tokenised ({@link TokenizedCorpus}) and each executor computes, in float64, the
 *       final hidden state entering {@code lm_head} of every predicted token of its sequences (one forward pass per
 *       {@code representer.batch-size} sequences); cached.</li>
 *   <li>Fit (driver, once): the head is fine-tuned from the checkpoint's own head to the stationary point of
 *       {@code (1/n) Σ_t CE(W f_t, y_t) + λ‖W‖²} ({@link HeadFit}, Newton-CG) on the collected features
 *       ({@code n × d} doubles: this is what bounds the corpus size). Saved under {@code fitDir} with a fingerprint
 *       of the checkpoint hash, the corpus content and the settings, and reused while that fingerprint holds
 *       ({@link SavedHead}).</li>
 *   <li>Scores: the head and the queries' completion-token features are broadcast; each partition scores its
 *       sequences {@code blockRows} (and at most about 4,096 tokens) at a time ({@link RepresenterScorer}: one GEMM for the softmax, one for the
 *       token dot products) into per-query top-k/bottom-k heaps, merged with treeReduce.</li>
 * </ol>
 *
 * <p>Columns: {@code checkpoints} = the one checkpoint, {@code contributions} = {@code [score]},
 * {@code layer_scores} = {@code {"lm_head": score}}, {@code projection} names the feature space,
 * {@code damping*} are null (λ is the fine-tune's, not a damping), and {@code solver} holds the fit as JSON
 * (λ, tokens, Newton steps, CG products, relative residual). {@code representer.json} beside the rows says the same.
 */
public final class RepresenterJob {

  /** The layer name in {@code layer_scores}. */
  public static final String LAYER = "lm_head";
  /** The fit description written beside the score rows. */
  public static final String FIT_FILE = "representer.json";

  private static final int MAX_BLOCK_TOKENS = 4096;
  private static final Logger LOG = LoggerFactory.getLogger(RepresenterJob.class);

  private RepresenterJob() {}

  /** What the fit behind a run was: the head, and a JSON description of it. */
  public record Fitted(RepresenterHead head, String description, boolean reused) {}

  /** Runs the representer scorer described by {@code spec}; returns the rows (the published ones when written). */
  public static Dataset<Row> run(SparkSession spark, RepresenterSpec spec) {
    PublishedFolder folder = spec.output() == null ? null
        : PublishedFolder.at(spark, spec.output(), ScoreJob.SCORES_FOLDER, "score");
    if (folder != null) {
      var done = folder.existing();
      if (done.isPresent()) {
        LOG.info("scores in {} are already complete; skipping", spec.output());
        return done.get();
      }
    }
    Dataset<Row> corpus = Corpus.read(spark, spec.corpus(), spec.badRows());
    TokenizedCorpus tokenized = TokenizedCorpus.prepare(spark, corpus, spec.checkpoint(), spec.badRows(),
        spec.longText());
    JavaRDD<SequenceFeatures> features = null;
    try {
      features = features(tokenized, spec);
      Fitted fitted = fit(spark, features, spec, Corpus.fingerprint(corpus));
      CausalLm model = driverModel(spec);
      List<PromptCompletion> encoded = QueryGradients.encode(spec.queries(), spec.checkpoint(), model);
      TokenFeatures queries = TokenFeatures.of(model, encoded.stream().map(PromptCompletion::tokens).toList(),
          encoded.stream().map(PromptCompletion::lossMask).toList(), spec.settings().batchSize());
      QueryHeaps heaps = score(JavaSparkContext.fromSparkContext(spark.sparkContext()), features, fitted.head(),
          queries, spec.queries().size(), spec.k(), spec.blockRows());
      Dataset<Row> result = ScoreJob.withText(spark, spark.createDataFrame(rows(spec, heaps, fitted, model),
          ScoreJob.SCHEMA), spec.corpus());
      if (folder == null) {
        return result;
      }
      Configuration conf = spark.sparkContext().hadoopConfiguration();
      ScoreJob.publish(folder, result, tmp -> Locations.writeString(conf, new Path(tmp, FIT_FILE),
          fitted.description() + "\n"));
      return folder.existing().orElseThrow().orderBy(col("query_id"), col("direction").desc(), col("rank"));
    } finally {
      if (features != null) {
        features.unpersist(false);
      }
      tokenized.release();
    }
  }

  /**
   * What the fitted head depends on and where it is kept: the checkpoint whose head is fine-tuned and whose features
   * are used, the fine-tune's settings, how the corpus is read and tokenised, and the folder of the saved head. The
   * score, self-influence and flag stages of representer points share it (one fit serves all three).
   */
  public record Fit(RunCheckpoint checkpoint, RepresenterSettings settings, BadRows badRows, LongText longText,
                    Path fitDir) {
    public Fit {
      java.util.Objects.requireNonNull(checkpoint, "checkpoint");
      java.util.Objects.requireNonNull(settings, "settings");
      java.util.Objects.requireNonNull(fitDir, "fitDir");
    }

    static Fit of(RepresenterSpec spec) {
      return new Fit(spec.checkpoint(), spec.settings(), spec.badRows(), spec.longText(), spec.fitDir());
    }
  }

  /** Pass 1: each usable sequence's predicted-token features at the checkpoint, float64, cached. */
  static JavaRDD<SequenceFeatures> features(TokenizedCorpus tokenized, RepresenterSpec spec) {
    return features(tokenized, Fit.of(spec));
  }

  /** Pass 1 for {@code fit}'s checkpoint; the caller unpersists the result. */
  static JavaRDD<SequenceFeatures> features(TokenizedCorpus tokenized, Fit spec) {
    String location = Runs.location(spec.checkpoint());
    String sha = spec.checkpoint().sha256();
    int batch = spec.settings().batchSize();
    JavaRDD<SequenceFeatures> out = tokenized.rows().toJavaRDD().mapPartitions(it -> {
      CausalLm model = ExecutorModels.model(location, sha, DataType.DOUBLE);
      List<SequenceFeatures> done = new ArrayList<>();
      List<String> ids = new ArrayList<>();
      List<int[]> tokens = new ArrayList<>();
      while (it.hasNext()) {
        Row r = it.next();
        ids.add(r.getString(0));
        tokens.add(r.<Integer>getList(1).stream().mapToInt(Integer::intValue).toArray());
        if (ids.size() == batch || !it.hasNext()) {
          TokenFeatures f = TokenFeatures.of(model, tokens, null, batch);
          int d = f.dim();
          int start = 0;
          for (int i = 0; i < ids.size(); i++) {
            int len = tokens.get(i).length - 1;   // every position t >= 1 is predicted
            done.add(new SequenceFeatures(ids.get(i), java.util.Arrays.copyOfRange(f.features(), start * d,
                (start + len) * d), java.util.Arrays.copyOfRange(f.targets(), start, start + len)));
            start += len;
          }
          ids.clear();
          tokens.clear();
        }
      }
      return done.iterator();
    });
    return out.persist(StorageLevel.MEMORY_AND_DISK());
  }

  /**
   * The fitted head: the saved one when its fingerprint (checkpoint hash, corpus content, settings) matches, else
   * fitted on the driver from the collected features and saved.
   */
  static Fitted fit(SparkSession spark, JavaRDD<SequenceFeatures> features, RepresenterSpec spec,
                    String corpusFingerprint) {
    return fit(spark, features, Fit.of(spec), corpusFingerprint);
  }

  /** {@link #fit(SparkSession, JavaRDD, RepresenterSpec, String)} for the fit alone. */
  static Fitted fit(SparkSession spark, JavaRDD<SequenceFeatures> features, Fit spec, String corpusFingerprint) {
    RepresenterSettings r = spec.settings();
    String fingerprint = fingerprint(spec, corpusFingerprint);
    Configuration conf = spark.sparkContext().hadoopConfiguration();
    var saved = SavedHead.read(conf, spec.fitDir(), fingerprint);
    if (saved.isPresent()) {
      LOG.info("reusing the representer head fitted in {}", spec.fitDir());
      return new Fitted(saved.get().head(), describe(saved.get().metadata()), true);
    }
    long t0 = System.nanoTime();
    List<SequenceFeatures> all = new ArrayList<>(features.collect());
    all.sort(Comparator.comparing(SequenceFeatures::id));   // the same token order whatever the partitioning
    CausalLm model = driverModel(spec.checkpoint());
    TokenFeatures train = concat(all, model.config().hiddenSize());
    HeadFit.Result fit = HeadFit.fit(train, model.headWeight(), r.lambda(), r.tolerance(), r.maxIterations());
    if (!fit.converged()) {
      throw new IllegalStateException(String.format(Locale.ROOT, "the representer fine-tune of the output head "
          + "stopped at relative residual %.3g > influence.representer.tolerance = %.3g after %d Newton steps. "
          + "HINT: raise influence.representer.max-iterations, or lambda (a larger λ is better conditioned)",
          fit.relativeResidual(), r.tolerance(), fit.iterations()));
    }
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put(SavedHead.FINGERPRINT, fingerprint);
    meta.put("checkpoint", ExtractJob.checkpointName(spec.checkpoint()));
    meta.put("solver", "newton-cg");
    meta.put("lambda", Double.toString(r.lambda()));
    meta.put("tokens", Long.toString(fit.head().tokens()));
    meta.put("sequences", Integer.toString(all.size()));
    meta.put("iterations", Integer.toString(fit.iterations()));
    meta.put("cg_products", Integer.toString(fit.cgIterations()));
    meta.put("relative_residual", Double.toString(fit.relativeResidual()));
    meta.put("objective", Double.toString(fit.objective()));
    meta.put("seconds", String.format(Locale.ROOT, "%.3f", (System.nanoTime() - t0) / 1e9));
    new SavedHead(fit.head(), meta).write(conf, spec.fitDir());
    LOG.info("fitted the representer head on {} tokens: {}", fit.head().tokens(), meta);
    return new Fitted(fit.head(), describe(meta), false);
  }

  /** What a fitted head depends on: the checkpoint's content, the corpus's content and tokenisation, the settings. */
  static String fingerprint(RepresenterSpec spec, String corpusFingerprint) {
    return fingerprint(Fit.of(spec), corpusFingerprint);
  }

  /** {@link #fingerprint(RepresenterSpec, String)} of the fit alone. */
  static String fingerprint(Fit spec, String corpusFingerprint) {
    RepresenterSettings r = spec.settings();
    return Runs.sha256(String.join("\n", "checkpoint " + spec.checkpoint().sha256(),
        "corpus " + corpusFingerprint, "bad-rows " + spec.badRows(), "long-text " + spec.longText(),
        "lambda " + r.lambda(), "tolerance " + r.tolerance(), "max-iterations " + r.maxIterations()));
  }

  /** Pass 2: per-query heaps of the representer scores of every sequence. */
  static QueryHeaps score(JavaSparkContext jsc, JavaRDD<SequenceFeatures> features, RepresenterHead head,
                          TokenFeatures queries, int queryCount, int k, int blockRows) {
    Broadcast<RepresenterHead> hb = jsc.broadcast(head);
    Broadcast<TokenFeatures> qb = jsc.broadcast(queries);
    int d = head.dim();
    QueryHeaps heaps = features.mapPartitions(it -> {
      RepresenterScorer scorer = new RepresenterScorer(hb.value(), qb.value(), queryCount);
      QueryHeaps h = QueryHeaps.empty(queryCount, k);
      long[] rows = new long[1];
      inBlocks(it, blockRows, block -> {
        double[][] s = scorer.scores(concat(block, d), block.size());
        for (int i = 0; i < block.size(); i++) {
          for (int q = 0; q < queryCount; q++) {
            h.top()[q].offer(block.get(i).id(), s[i][q]);
            h.bottom()[q].offer(block.get(i).id(), s[i][q]);
          }
        }
        rows[0] += block.size();
      });
      return List.of(new QueryHeaps(h.top(), h.bottom(), rows[0])).iterator();
    }).treeReduce(QueryHeaps::merge);
    hb.destroy();
    qb.destroy();
    return heaps;
  }

  /**
   * Hands the sequences of {@code it} to {@code each} in blocks of at most {@code blockRows} sequences and about
   * {@link #MAX_BLOCK_TOKENS} tokens (a block's softmax is tokens × V); the list is reused between calls.
   */
  static void inBlocks(java.util.Iterator<SequenceFeatures> it, int blockRows,
                       java.util.function.Consumer<List<SequenceFeatures>> each) {
    List<SequenceFeatures> block = new ArrayList<>();
    int tokens = 0;
    while (it.hasNext()) {
      SequenceFeatures next = it.next();
      block.add(next);
      tokens += next.targets().length;
      if (block.size() == blockRows || tokens >= MAX_BLOCK_TOKENS || !it.hasNext()) {
        each.accept(block);
        block.clear();
        tokens = 0;
      }
    }
  }

  /** The sequences' tokens one after another, {@code sequence()} = index in {@code seqs}. */
  static TokenFeatures concat(List<SequenceFeatures> seqs, int d) {
    int n = 0;
    for (SequenceFeatures s : seqs) {
      n += s.targets().length;
    }
    double[] f = new double[n * d];
    int[] y = new int[n];
    int[] owner = new int[n];
    int at = 0;
    for (int i = 0; i < seqs.size(); i++) {
      SequenceFeatures s = seqs.get(i);
      int m = s.targets().length;
      System.arraycopy(s.features(), 0, f, at * d, m * d);
      System.arraycopy(s.targets(), 0, y, at, m);
      java.util.Arrays.fill(owner, at, at + m, i);
      at += m;
    }
    return new TokenFeatures(d, f, y, owner);
  }

  private static List<Row> rows(RepresenterSpec spec, QueryHeaps heaps, Fitted fitted, CausalLm model) {
    String name = ExtractJob.checkpointName(spec.checkpoint());
    String projection = "none: lm_head input features (d = " + model.config().hiddenSize() + "), head fine-tuned"
        + " with L2 λ = " + spec.settings().lambda();
    List<Row> out = new ArrayList<>();
    for (int q = 0; q < spec.queries().size(); q++) {
      for (String direction : List.of("top", "bottom")) {
        List<TopK.Scored> kept = (direction.equals("top") ? heaps.top() : heaps.bottom())[q].result();
        for (int r = 0; r < kept.size(); r++) {
          TopK.Scored s = kept.get(r);
          out.add(RowFactory.create(spec.queries().get(q).id(), direction, r + 1, s.id(), s.score(),
              CollectionConverters.asScala(List.of(name)).toSeq(),
              CollectionConverters.asScala(List.of(s.score())).toSeq(),
              CollectionConverters.asScala(Map.of(LAYER, s.score())),
              io.influence.spark.config.Method.REPRESENTER.word(), null, null, null, projection,
              CollectionConverters.asScala(java.util.Collections.singletonList(spec.checkpoint().sha256())).toSeq(),
              ScoreJob.ENGINE_VERSION, fitted.description()));
        }
      }
    }
    return out;
  }

  private static CausalLm driverModel(RepresenterSpec spec) {
    return driverModel(spec.checkpoint());
  }

  static CausalLm driverModel(RunCheckpoint checkpoint) {
    return ExecutorModels.model(Runs.location(checkpoint), checkpoint.sha256(), DataType.DOUBLE);
  }

  static String describe(Map<String, String> meta) {
    StringBuilder b = new StringBuilder("{");
    for (Map.Entry<String, String> e : meta.entrySet()) {
      if (b.length() > 1) {
        b.append(", ");
      }
      String v = e.getValue();
      boolean number = v.matches("-?[0-9.eE+-]+") && !v.isEmpty();
      b.append('"').append(e.getKey()).append("\": ").append(number ? v : "\"" + v + "\"");
    }
    return b.append('}').toString();
  }
}
