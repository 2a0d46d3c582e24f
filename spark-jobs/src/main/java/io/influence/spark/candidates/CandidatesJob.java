package io.influence.spark.candidates;

import static org.apache.spark.sql.functions.col;

import io.influence.core.score.TopK;
import io.influence.core.tokenizer.Tokenizer;
import io.influence.spark.extract.ExecutorModels;
import io.influence.spark.io.Queries;
import io.influence.spark.score.ScoreJob;
import io.influence.spark.store.AtomicOutput;
import io.influence.spark.store.PublishedFolder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The candidate prefilter: per query, the top-M corpus rows by a lexical score (TF-IDF cosine or BM25,
 * {@link LexicalScorer}) of the query's text (prompt + completion) against each row's text, with terms that are
 * words or the checkpoint tokenizer's token ids ({@link CandidateTokens}). The corpus side is an MLlib pipeline
 * fitted once ({@link LexicalModel}); each query is then scored against every row in one pass (an inverted index of
 * the queries broadcast to the executors, {@link LexicalQueries}), per-partition {@link TopK} heaps merged with
 * treeReduce. Only rows with a positive score are candidates (a row sharing no weighted term with the query is
 * never one), so a query may get fewer than M. Ties are broken by row id.
 *
 * <p>Output rows ({@link #SCHEMA}): {@code (query_id, train_id, rank, score)}, rank 1 = the highest score; {@code
 * train_id} is the corpus row id (every window {@code <id>#w<k>} of a long text is a candidate when its row is).
 * With {@code spec.folder()} set:
 * <pre>
 *   folder/model/             the fitted LexicalModel (MLlib pipeline + lexical.json), reused when complete
 *   folder/lists/lists.parquet the rows
 *   folder/lists/summary.jsonl the same rows, one JSON object per line (written last: the lists are complete)
 * </pre>
 * Whether a saved model or list still matches the corpus, queries and settings is the caller's check
 * ({@code Stages.candidates} claims both with OutputGuard).
 *
 * <p>With {@code candidates.source = scores} (two-stage retrieval) no model is fitted: the candidates are the top
 * rows of an earlier, cheaper score output ({@link #fromScores}), written as the same lists.
 */
public final class CandidatesJob {

  public static final String MODEL = "model";
  public static final String LISTS = "lists";
  public static final String LISTS_DATA = "lists.parquet";

  /** Columns of a candidate row. */
  public static final StructType SCHEMA = new StructType()
      .add("query_id", DataTypes.StringType, false)
      .add("train_id", DataTypes.StringType, false)
      .add("rank", DataTypes.IntegerType, false)
      .add("score", DataTypes.DoubleType, false);

  private static final StructType TERMS = new StructType()
      .add("id", DataTypes.StringType, false)
      .add("terms", DataTypes.createArrayType(DataTypes.StringType, false), false);

  private static final Logger LOG = LoggerFactory.getLogger(CandidatesJob.class);

  private CandidatesJob() {}

  /** Runs the prefilter described by {@code spec}; see the class comment for the rows returned. */
  public static Dataset<Row> run(SparkSession spark, CandidatesSpec spec) {
    PublishedFolder lists = spec.folder() == null ? null
        : PublishedFolder.at(spark, new Path(spec.folder(), LISTS), LISTS_DATA, "candidates");
    if (lists != null) {
      var done = lists.existing();
      if (done.isPresent()) {
        LOG.info("candidates in {} are already complete; skipping", spec.folder());
        return done.get().orderBy(col("query_id"), col("rank"));
      }
    }
    if (spec.settings().source() == CandidateSource.SCORES) {
      Dataset<Row> fromScores = fromScores(spark, spec);
      if (lists == null) {
        return fromScores;
      }
      lists.publish(tmp -> fromScores.coalesce(1).write().parquet(lists.dataPath(tmp).toString()),
          tmp -> fromScores.collectAsList().iterator());
      return lists.existing().orElseThrow().orderBy(col("query_id"), col("rank"));
    }
    long t0 = System.nanoTime();
    CandidateTokens tokens = spec.settings().tokens();
    Dataset<Row> docs = documents(spec.corpus(), tokens, spec.tokenizer());
    LexicalModel model = model(spark, spec, docs);
    long t1 = System.nanoTime();

    List<Row> queryRows = new ArrayList<>();
    Tokenizer tokenizer = tokens == CandidateTokens.TOKENIZER ? tokenizer(spec.tokenizer()) : null;
    for (Queries.Query q : spec.queries()) {
      String text = q.prompt() + q.completion();
      queryRows.add(tokenizer == null ? RowFactory.create(q.id(), text)
          : RowFactory.create(q.id(), seq(terms(tokenizer, text))));
    }
    StructType querySchema = tokenizer == null ? new StructType().add("id", DataTypes.StringType, false)
        .add("text", DataTypes.StringType, false) : TERMS;
    Map<String, Row> byId = new HashMap<>();
    for (Row r : model.transform(spark.createDataFrame(queryRows, querySchema)).select("id", "tf", "tfidf")
        .collectAsList()) {
      byId.put(r.getString(0), r);
    }
    String[] queryIds = spec.queries().stream().map(Queries.Query::id).toArray(String[]::new);
    List<Vector> vectors = new ArrayList<>();
    for (String id : queryIds) {
      vectors.add(byId.get(id).getAs(spec.settings().scorer() == LexicalScorer.TFIDF ? "tfidf" : "tf"));
    }
    LexicalQueries index = new LexicalQueries(spec.settings().scorer(), vectors, model.documents(),
        model.documentFrequencies(), model.averageLength());
    int m = spec.settings().m(model.documents());
    TopK[] heaps = topM(spark, model.transform(docs).select("id", "tf", "unit"), index, m);
    long t2 = System.nanoTime();

    List<Row> out = new ArrayList<>();
    for (int q = 0; q < queryIds.length; q++) {
      List<TopK.Scored> kept = heaps[q].result();
      for (int r = 0; r < kept.size(); r++) {
        out.add(RowFactory.create(queryIds[q], kept.get(r).id(), r + 1, kept.get(r).score()));
      }
    }
    LOG.info("candidates: {} rows, {} queries, M = {}: model {} ms, scoring {} ms", model.documents(),
        queryIds.length, m, (t1 - t0) / 1_000_000, (t2 - t1) / 1_000_000);
    Dataset<Row> result = spark.createDataFrame(out, SCHEMA);
    if (lists == null) {
      return result.orderBy(col("query_id"), col("rank"));
    }
    lists.publish(tmp -> result.coalesce(1).write().parquet(lists.dataPath(tmp).toString()),
        tmp -> result.orderBy(col("query_id"), col("rank")).collectAsList().iterator());
    return lists.existing().orElseThrow().orderBy(col("query_id"), col("rank"));
  }

  /**
   * Two-stage retrieval's recall stage: each query's first M distinct rows ({@code LongText.rowId} of the train ids)
   * of the "top" direction of an earlier score output, with that output's score. Every query must be there, with
   * M rows or the whole corpus.
   */
  private static Dataset<Row> fromScores(SparkSession spark, CandidatesSpec spec) {
    Path data = new Path(spec.scores(), ScoreJob.SCORES_FOLDER);
    Dataset<Row> scored;
    try {
      scored = spark.read().parquet(data.toString());
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("influence.candidates.scores: cannot read the score output " + data + " ("
          + e.getMessage() + "). HINT: run `influence score` for the recall stage into that folder first", e);
    }
    long rows = spec.corpus().count();
    int m = spec.settings().m(rows);
    Map<String, List<Row>> byQuery = new HashMap<>();
    for (Row r : scored.filter(col("direction").equalTo("top")).select("query_id", "train_id", "rank", "score")
        .orderBy(col("query_id"), col("rank")).collectAsList()) {
      byQuery.computeIfAbsent(r.getString(0), x -> new ArrayList<>()).add(r);
    }
    List<Row> out = new ArrayList<>();
    for (Queries.Query q : spec.queries()) {
      List<Row> ranked = byQuery.get(q.id());
      if (ranked == null) {
        throw new IllegalArgumentException("the score output " + spec.scores() + " has no rows for query '" + q.id()
            + "'. HINT: score the same queries in the recall stage");
      }
      Set<String> seen = new LinkedHashSet<>();
      for (Row r : ranked) {
        String row = io.influence.spark.config.LongText.rowId(r.getString(1));
        if (seen.size() < m && seen.add(row)) {
          out.add(RowFactory.create(q.id(), row, seen.size(), r.getDouble(3)));
        }
      }
      if (seen.size() < m && ranked.size() < rows) {
        throw new IllegalArgumentException("the score output " + spec.scores() + " keeps " + ranked.size()
            + " rows of query '" + q.id() + "', fewer than the " + m + " candidates asked for. HINT: run the recall "
            + "stage with score.top-k >= " + m + ", or lower candidates.top-m");
      }
    }
    return spark.createDataFrame(out, SCHEMA).orderBy(col("query_id"), col("rank"));
  }

  /** Per query id, the set of its candidate row ids (what {@code ScoreSpec.withCandidates} takes). */
  public static Map<String, Set<String>> byQuery(Dataset<Row> lists) {
    Map<String, Set<String>> out = new HashMap<>();
    for (Row r : lists.select("query_id", "train_id").collectAsList()) {
      out.computeIfAbsent(r.getString(0), x -> new LinkedHashSet<>()).add(r.getString(1));
    }
    return out;
  }

  /** The union of every query's candidate row ids (what a candidate-only extraction extracts). */
  public static Set<String> rows(Dataset<Row> lists) {
    Set<String> out = new java.util.HashSet<>();
    for (Row r : lists.select("train_id").distinct().collectAsList()) {
      out.add(r.getString(0));
    }
    return out;
  }

  /** The fitted model: the one saved in {@code folder/model} when complete, else fitted on {@code docs} and saved. */
  private static LexicalModel model(SparkSession spark, CandidatesSpec spec, Dataset<Row> docs) {
    Path folder = spec.folder() == null ? null : new Path(spec.folder(), MODEL);
    FileSystem fs = folder == null ? null : AtomicOutput.fs(folder, spark.sparkContext().hadoopConfiguration());
    if (folder != null) {
      var saved = LexicalModel.load(fs, folder);
      if (saved.isPresent()) {
        LOG.info("reusing the lexical model in {}", folder);
        return saved.get();
      }
      AtomicOutput.deleteQuietly(fs, folder);   // a leftover without lexical.json
    }
    LexicalModel model = LexicalModel.fit(docs, spec.settings().tokens(), spec.settings().numFeatures());
    if (folder != null) {
      model.save(fs, folder);
    }
    return model;
  }

  /** The corpus as the pipeline's input: {@code (id, text)} for words, {@code (id, terms)} for the tokenizer. */
  private static Dataset<Row> documents(Dataset<Row> corpus, CandidateTokens tokens, String tokenizer) {
    if (tokens == CandidateTokens.WORDS) {
      List<Row> missing = corpus.filter(col("text").isNull()).select("id").limit(5).collectAsList();
      if (!missing.isEmpty()) {
        throw new IllegalArgumentException("influence.candidates.tokens = words needs `text`, but corpus rows "
            + missing.stream().map(r -> r.getString(0)).toList() + " have none. HINT: set candidates.tokens ="
            + " tokenizer to use their input_ids");
      }
      return corpus.select("id", "text");
    }
    return corpus.select("id", "text", "input_ids").mapPartitions(new Terms(tokenizer), Encoders.row(TERMS));
  }

  private static TopK[] topM(SparkSession spark, Dataset<Row> rows, LexicalQueries index, int m) {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    Broadcast<LexicalQueries> ib = jsc.broadcast(index);
    int nq = index.count();
    TopK[] heaps = rows.javaRDD().mapPartitions((Iterator<Row> it) -> {
      LexicalQueries qs = ib.value();
      TopK[] h = new TopK[nq];
      for (int q = 0; q < nq; q++) {
        h[q] = TopK.largest(m);
      }
      double[] scores = new double[nq];
      while (it.hasNext()) {
        Row r = it.next();
        Arrays.fill(scores, 0);
        if (qs.score(r.getAs(1), r.getAs(2), scores)) {
          for (int q = 0; q < nq; q++) {
            if (scores[q] > 0) {
              h[q].offer(r.getString(0), scores[q]);
            }
          }
        }
      }
      return List.<TopK[]>of(h).iterator();
    }).treeReduce((a, b) -> {
      TopK[] merged = new TopK[a.length];
      for (int q = 0; q < a.length; q++) {
        merged[q] = a[q].merge(b[q]);
      }
      return merged;
    });
    ib.destroy();
    return heaps;
  }

  private static Tokenizer tokenizer(String location) {
    return ExecutorModels.tokenizer(location).orElseThrow(() -> new IllegalArgumentException("checkpoint " + location
        + " has no tokenizer.json, which influence.candidates.tokens = tokenizer needs. HINT: save the tokenizer "
        + "next to the checkpoint, or use candidates.tokens = words"));
  }

  /** A Scala sequence: what a row encoder takes for an array column. */
  private static scala.collection.immutable.Seq<String> seq(String[] terms) {
    return scala.jdk.javaapi.CollectionConverters.asScala(Arrays.asList(terms)).toList();
  }

  private static String[] terms(Tokenizer tokenizer, String text) {
    return Arrays.stream(tokenizer.encode(text)).mapToObj(Integer::toString).toArray(String[]::new);
  }

  /** A corpus row's terms: its {@code input_ids}, else its {@code text} encoded by the checkpoint's tokenizer. */
  private static final class Terms implements MapPartitionsFunction<Row, Row> {
    private final String tokenizer;

    Terms(String tokenizer) {
      this.tokenizer = tokenizer;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> rows) {
      List<Row> out = new ArrayList<>();
      Tokenizer t = null;
      while (rows.hasNext()) {
        Row r = rows.next();
        String[] terms;
        if (!r.isNullAt(2)) {
          terms = r.getList(2).stream().map(String::valueOf).toArray(String[]::new);
        } else if (!r.isNullAt(1)) {
          if (t == null) {
            t = CandidatesJob.tokenizer(tokenizer);
          }
          terms = CandidatesJob.terms(t, r.getString(1));
        } else {
          terms = new String[0];
        }
        out.add(RowFactory.create(r.getString(0), seq(terms)));
      }
      return out.iterator();
    }
  }
}
