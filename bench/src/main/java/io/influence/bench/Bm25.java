package io.influence.bench;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/*
 * Okapi BM25 (Robertson and Zaragoza 2009), the lexical baseline of the planted-facts task, with the
 * usual k1 = 1.2 and b = 0.75:
 *
 *   score(q, d) = Σ_{t ∈ terms(q)} idf(t) · f(t,d)(k1 + 1) / (f(t,d) + k1 (1 − b + b |d| / avgdl)),
 *   idf(t)      = ln(1 + (N − n(t) + 0.5) / (n(t) + 0.5))          (Lucene's form: never negative)
 *
 * f(t,d) is the count of term t in document d, |d| the document's length in terms, avgdl the mean
 * length, n(t) the number of documents containing t. Each distinct query term counts once.
 *
 * Tokenisation: lower-cased (Locale.ROOT), split on every character that is not a Unicode letter or
 * digit; no stemming, no stop words ("quellmark" and "quellmarks" are different terms).
 */
final class Bm25 {

  static final double K1 = 1.2;
  static final double B = 0.75;

  private final List<Map<String, Integer>> counts = new ArrayList<>();
  private final int[] lengths;
  private final Map<String, Integer> documentFrequency = new HashMap<>();
  private final double averageLength;

  Bm25(List<String> documents) {
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
  static List<String> terms(String text) {
    List<String> out = new ArrayList<>();
    for (String t : text.toLowerCase(Locale.ROOT).split("[^\\p{L}\\p{Nd}]+")) {
      if (!t.isEmpty()) {
        out.add(t);
      }
    }
    return out;
  }

  double idf(String term) {
    int n = documentFrequency.getOrDefault(term, 0);
    return Math.log(1 + (counts.size() - n + 0.5) / (n + 0.5));
  }

  /** The BM25 score of every document for {@code query}, in document order. */
  double[] scores(String query) {
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
