package io.influence.core.lexical;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/*
 * Okapi BM25 (Robertson and Zaragoza 2009), with the usual k1 = 1.2 and b = 0.75:
 *
 *   score(q, d) = Σ_{t ∈ terms(q)} idf(t) · f(t,d)(k1 + 1) / (f(t,d) + k1 (1 − b + b |d| / avgdl)),
 *   idf(t)      = ln(1 + (N − n(t) + 0.5) / (n(t) + 0.5))          (Lucene's form: never negative)
 *
 * f(t,d) is the count of term t in document d, |d| the document's length in terms, avgdl the mean
 * length, n(t) the number of documents containing t. Each distinct query term counts once.
 *
 * Two uses: the static idf(...) and term(...) are the formula, which the Spark candidate prefilter
 * (io.influence.spark.candidates) evaluates on MLlib term-count vectors; an instance is the brute-force
 * scorer over documents in memory (one map of counts per document), the planted-facts bench's lexical
 * baseline and the independent truth the prefilter's tests compare against.
 *
 * Tokenisation of the brute-force scorer (terms): lower-cased (Locale.ROOT), split on every character
 * that is not a Unicode letter or digit; no stemming, no stop words ("quellmark" and "quellmarks" are
 * different terms).
 */
public final class Bm25 {

  public static final double K1 = 1.2;
  public static final double B = 0.75;

  private final List<Map<String, Integer>> counts = new ArrayList<>();
  private final int[] lengths;
  private final Map<String, Integer> documentFrequency = new HashMap<>();
  private final double averageLength;

  /** The brute-force scorer of {@code documents} (at least one). */
  public Bm25(List<String> documents) {
    if (documents.isEmpty()) {
      throw new IllegalArgumentException("BM25 needs at least one document");
    }
    lengths = new int[documents.size()];
    long sum = 0;
    for (int d = 0; d < documents.size(); d++) {
      Map<String, Integer> c = new HashMap<>();
      List<String> terms = terms(documents.get(d));
      terms.forEach(t -> c.merge(t, 1, Integer::sum));
      counts.add(c);
      lengths[d] = terms.size();
      sum += terms.size();
      c.keySet().forEach(t -> documentFrequency.merge(t, 1, Integer::sum));
    }
    averageLength = Math.max(1e-12, (double) sum / documents.size());
  }

  /** The terms of a text (see the class comment). */
  public static List<String> terms(String text) {
    List<String> out = new ArrayList<>();
    for (String t : text.toLowerCase(Locale.ROOT).split("[^\\p{L}\\p{Nd}]+")) {
      if (!t.isEmpty()) {
        out.add(t);
      }
    }
    return out;
  }

  /** Lucene's BM25 idf of a term found in {@code containing} of {@code documents} documents. */
  public static double idf(long documents, long containing) {
    return Math.log(1 + (documents - containing + 0.5) / (containing + 0.5));
  }

  /**
   * One query term's share of a document's score: {@code idf · f (k1 + 1) / (f + k1 (1 − b + b · length /
   * averageLength))}, 0 when {@code f == 0}.
   */
  public static double term(double idf, double f, double length, double averageLength) {
    if (f == 0) {
      return 0;
    }
    return idf * f * (K1 + 1) / (f + K1 * (1 - B + B * length / averageLength));
  }

  /** The idf of {@code term} in this scorer's documents. */
  public double idf(String term) {
    return idf(counts.size(), documentFrequency.getOrDefault(term, 0));
  }

  /** The BM25 score of every document for {@code query}, in document order. */
  public double[] scores(String query) {
    double[] out = new double[counts.size()];
    for (String t : new LinkedHashSet<>(terms(query))) {
      double idf = idf(t);
      for (int d = 0; d < out.length; d++) {
        Integer f = counts.get(d).get(t);
        if (f != null) {
          out[d] += idf * f * (K1 + 1) / (f + K1 * (1 - B + B * lengths[d] / averageLength));
        }
      }
    }
    return out;
  }
}
