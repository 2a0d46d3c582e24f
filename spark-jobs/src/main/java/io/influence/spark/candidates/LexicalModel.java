package io.influence.spark.candidates;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.spark.store.AtomicOutput;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.feature.CountVectorizer;
import org.apache.spark.ml.feature.HashingTF;
import org.apache.spark.ml.feature.IDF;
import org.apache.spark.ml.feature.IDFModel;
import org.apache.spark.ml.feature.Normalizer;
import org.apache.spark.ml.feature.RegexTokenizer;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.functions;

/**
 * The fitted corpus side of the candidate prefilter: an MLlib {@link PipelineModel} that turns a row's terms into
 * term counts {@code tf}, TF-IDF {@code tfidf} and the L2-normalised {@code unit}, plus what BM25 needs beyond it
 * (the number of documents and their mean length in terms; the document frequencies are the {@link IDFModel}'s).
 *
 * <p>Stages: with {@link CandidateTokens#WORDS} an MLlib {@link RegexTokenizer} ({@code text → terms}: lower case,
 * split on {@code [^\p{L}\p{Nd}]+}); with {@link CandidateTokens#TOKENIZER} the caller gives {@code terms} (token ids
 * as strings). Then {@code terms → tf} by {@link CountVectorizer} (exact vocabulary, {@code numFeatures == 0}) or
 * {@link HashingTF} ({@code numFeatures} buckets), {@link IDF} ({@code tf → tfidf}, idf = ln((N + 1)/(n(t) + 1)))
 * and {@link Normalizer} ({@code tfidf → unit}, p = 2).
 *
 * <p>Saved as a folder: {@code pipeline/} (MLlib's own format, {@code PipelineModel.load}) and
 * {@code lexical.json} (tokens, num-features, documents, mean length), written last: the folder is complete when
 * it holds {@code lexical.json}.
 */
public final class LexicalModel {

  static final String PIPELINE = "pipeline";
  static final String META = "lexical.json";
  static final String WORD_SPLIT = "[^\\p{L}\\p{Nd}]+";

  private static final ObjectMapper JSON = new ObjectMapper();

  private final PipelineModel pipeline;
  private final CandidateTokens tokens;
  private final int numFeatures;
  private final long documents;
  private final double averageLength;

  private LexicalModel(PipelineModel pipeline, CandidateTokens tokens, int numFeatures, long documents,
      double averageLength) {
    this.pipeline = pipeline;
    this.tokens = tokens;
    this.numFeatures = numFeatures;
    this.documents = documents;
    this.averageLength = averageLength;
  }

  /**
   * Fits the pipeline on {@code corpus}: rows {@code (id, text)} for words, {@code (id, terms)} for the tokenizer's
   * terms.
   */
  static LexicalModel fit(Dataset<Row> corpus, CandidateTokens tokens, int numFeatures) {
    java.util.List<PipelineStage> stages = new java.util.ArrayList<>();
    if (tokens == CandidateTokens.WORDS) {
      stages.add(new RegexTokenizer().setInputCol("text").setOutputCol("terms").setPattern(WORD_SPLIT).setGaps(true)
          .setToLowercase(true).setMinTokenLength(1));
    }
    if (numFeatures == 0) {
      stages.add(new CountVectorizer().setInputCol("terms").setOutputCol("tf").setVocabSize(Integer.MAX_VALUE)
          .setMinDF(1));
    } else {
      stages.add(new HashingTF().setInputCol("terms").setOutputCol("tf").setNumFeatures(numFeatures));
    }
    stages.add(new IDF().setInputCol("tf").setOutputCol("tfidf"));
    stages.add(new Normalizer().setInputCol("tfidf").setOutputCol("unit").setP(2.0));
    PipelineModel model = new Pipeline().setStages(stages.toArray(PipelineStage[]::new)).fit(corpus);
    IDFModel idf = idfOf(model);
    Row lengths = model.transform(corpus).agg(functions.sum(functions.size(functions.col("terms")))).first();
    long total = lengths.isNullAt(0) ? 0 : lengths.getLong(0);
    long n = idf.numDocs();
    return new LexicalModel(model, tokens, numFeatures, n, n == 0 ? 1 : Math.max(1e-12, (double) total / n));
  }

  /** Adds {@code terms}, {@code tf}, {@code tfidf} and {@code unit} to {@code rows} (same input columns as fit). */
  Dataset<Row> transform(Dataset<Row> rows) {
    return pipeline.transform(rows);
  }

  /** MLlib's document frequency of each feature index. */
  long[] documentFrequencies() {
    return idfOf(pipeline).docFreq();
  }

  long documents() {
    return documents;
  }

  double averageLength() {
    return averageLength;
  }

  CandidateTokens tokens() {
    return tokens;
  }

  /** Writes the model into {@code folder} (which must not exist) through a temporary sibling renamed into place. */
  void save(FileSystem fs, Path folder) {
    Path tmp = AtomicOutput.newTemporary(folder.getParent());
    try {
      pipeline.write().save(new Path(tmp, PIPELINE).toString());
      Map<String, Object> meta = new LinkedHashMap<>();
      meta.put("tokens", io.influence.spark.config.Choices.word(tokens));
      meta.put("num_features", numFeatures);
      meta.put("documents", documents);
      meta.put("average_length", averageLength);
      AtomicOutput.writeString(fs, new Path(tmp, META), JSON.writeValueAsString(meta));
      AtomicOutput.publish(fs, tmp, folder);
    } catch (IOException e) {
      AtomicOutput.deleteQuietly(fs, tmp);
      throw new UncheckedIOException("cannot write " + folder + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      AtomicOutput.deleteQuietly(fs, tmp);
      throw e;
    }
  }

  /** The model saved in {@code folder}, if that folder is complete. */
  static java.util.Optional<LexicalModel> load(FileSystem fs, Path folder) {
    if (!AtomicOutput.isComplete(fs, folder, META)) {
      return java.util.Optional.empty();
    }
    try {
      var meta = JSON.readTree(AtomicOutput.readString(fs, new Path(folder, META)));
      PipelineModel p = PipelineModel.load(new Path(folder, PIPELINE).toString());
      return java.util.Optional.of(new LexicalModel(p, io.influence.spark.config.Choices.parse(CandidateTokens.class,
          "candidates.tokens", meta.get("tokens").asText()), meta.get("num_features").asInt(),
          meta.get("documents").asLong(), meta.get("average_length").asDouble()));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + folder + ": " + e.getMessage(), e);
    }
  }

  private static IDFModel idfOf(PipelineModel model) {
    return (IDFModel) Arrays.stream(model.stages()).filter(t -> t instanceof IDFModel).findFirst()
        .orElseThrow(() -> new IllegalStateException("the lexical pipeline has no IDF stage"));
  }

  @Override
  public String toString() {
    return "LexicalModel[" + Arrays.stream(pipeline.stages()).map(Transformer::uid).toList() + ", documents="
        + documents + ", averageLength=" + averageLength + "]";
  }
}
