package io.influence.spark.candidates;

import io.influence.core.lexical.Bm25;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.ml.linalg.SparseVector;
import org.apache.spark.ml.linalg.Vector;

/**
 * The queries of a candidate run as an inverted index: per feature index, the queries whose text has it and the
 * weight it carries for them. TF-IDF: the query's TF-IDF value normalised over the features found in the corpus
 * (a query term no row has is left out, whether the vocabulary is exact or hashed), so a row's score is the cosine
 * {@code Σ_t q̂_t · d̂_t}. BM25: the term's Lucene idf (each distinct query term once), so a row's score is
 * {@code Σ_t Bm25.term(idf_t, f(t,d), |d|, avgdl)}. Scoring a row touches only the postings of its own terms.
 */
final class LexicalQueries implements Serializable {

  private static final long serialVersionUID = 1L;

  private final LexicalScorer scorer;
  private final int count;
  private final double averageLength;
  private final Map<Integer, int[]> queriesOf = new HashMap<>();
  private final Map<Integer, double[]> weightsOf = new HashMap<>();

  /**
   * @param vectors per query: its {@code tfidf} vector (TF-IDF) or its {@code tf} vector (BM25: the indices used)
   * @param documentFrequency MLlib's document frequency per feature (BM25's idf)
   */
  LexicalQueries(LexicalScorer scorer, List<Vector> vectors, long documents, long[] documentFrequency,
      double averageLength) {
    this.scorer = scorer;
    this.count = vectors.size();
    this.averageLength = averageLength;
    Map<Integer, List<double[]>> postings = new HashMap<>();
    for (int q = 0; q < vectors.size(); q++) {
      SparseVector v = vectors.get(q).toSparse();
      int[] idx = v.indices();
      double[] val = v.values();
      double norm = 0;   // over the features some row has: a term the corpus lacks scores nothing, nor weighs
      for (int j = 0; j < idx.length; j++) {
        norm += documentFrequency[idx[j]] > 0 ? val[j] * val[j] : 0;
      }
      norm = Math.sqrt(norm);
      for (int j = 0; j < idx.length; j++) {
        if (val[j] == 0 || documentFrequency[idx[j]] == 0) {
          continue;
        }
        double w = scorer == LexicalScorer.TFIDF ? val[j] / norm : Bm25.idf(documents, documentFrequency[idx[j]]);
        postings.computeIfAbsent(idx[j], x -> new ArrayList<>()).add(new double[] {q, w});
      }
    }
    postings.forEach((t, list) -> {
      queriesOf.put(t, list.stream().mapToInt(p -> (int) p[0]).toArray());
      weightsOf.put(t, list.stream().mapToDouble(p -> p[1]).toArray());
    });
  }

  int count() {
    return count;
  }

  /**
   * Adds the row's score for every query into {@code scores} (zeroed by the caller) and returns whether any query
   * shares a term with it. {@code tf} is the row's term counts, {@code unit} its normalised TF-IDF.
   */
  boolean score(Vector tf, Vector unit, double[] scores) {
    boolean any = false;
    if (scorer == LexicalScorer.TFIDF) {
      SparseVector u = unit.toSparse();
      int[] idx = u.indices();
      double[] val = u.values();
      for (int j = 0; j < idx.length; j++) {
        int[] qs = queriesOf.get(idx[j]);
        if (qs != null) {
          double[] ws = weightsOf.get(idx[j]);
          for (int i = 0; i < qs.length; i++) {
            scores[qs[i]] += ws[i] * val[j];
          }
          any = true;
        }
      }
    } else {
      SparseVector f = tf.toSparse();
      int[] idx = f.indices();
      double[] val = f.values();
      double length = 0;
      for (double c : val) {
        length += c;
      }
      for (int j = 0; j < idx.length; j++) {
        int[] qs = queriesOf.get(idx[j]);
        if (qs != null) {
          double[] ws = weightsOf.get(idx[j]);
          for (int i = 0; i < qs.length; i++) {
            scores[qs[i]] += Bm25.term(ws[i], val[j], length, averageLength);
          }
          any = true;
        }
      }
    }
    return any;
  }
}
