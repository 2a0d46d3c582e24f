package io.influence.bench;

import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The retrieval and detection figures of the corpus tasks, from plain score maps (id → score, higher =
 * ranked earlier; ties broken by id so every ranking is deterministic).
 */
final class RankingMetrics {

  private RankingMetrics() {}

  /** Ids by descending score, ties by id. */
  static List<String> ranking(Map<String, Double> scores) {
    for (Map.Entry<String, Double> e : scores.entrySet()) {
      if (e.getValue() == null || Double.isNaN(e.getValue())) {
        throw new IllegalArgumentException("score of " + e.getKey() + " is " + e.getValue());
      }
    }
    return scores.entrySet().stream()
        .sorted(Map.Entry.<String, Double>comparingByValue(Comparator.reverseOrder()).thenComparing(Map.Entry.comparingByKey()))
        .map(Map.Entry::getKey).toList();
  }

  /** 1 when the first id is relevant, else 0. */
  static double hitAt1(List<String> ranking, Set<String> relevant) {
    return !ranking.isEmpty() && relevant.contains(ranking.get(0)) ? 1 : 0;
  }

  /** Fraction of the relevant ids among the first {@code k}. */
  static double recallAt(List<String> ranking, Set<String> relevant, int k) {
    long found = ranking.stream().limit(k).filter(relevant::contains).count();
    return (double) found / relevant.size();
  }

  /** 1 / (rank of the first relevant id), 0 when none is ranked. */
  static double reciprocalRank(List<String> ranking, Set<String> relevant) {
    for (int i = 0; i < ranking.size(); i++) {
      if (relevant.contains(ranking.get(i))) {
        return 1.0 / (i + 1);
      }
    }
    return 0;
  }

  /** Fraction of {@code positives} among the top {@code ceil(fraction · n)} of the ranking. */
  static double foundInTop(List<String> ranking, Collection<String> positives, double fraction) {
    int cut = (int) Math.ceil(fraction * ranking.size());
    long found = ranking.stream().limit(cut).filter(positives::contains).count();
    return (double) found / positives.size();
  }

  /**
   * Average precision (the area under the precision-recall curve, AUPRC) of {@code positives} against {@code
   * negatives} (ids in neither are ignored): the mean over the positives of the precision at each one's position in
   * the ranking by score, best first ({@link #ranking}'s order, ties broken by id). 1 when every positive comes
   * first; a random ranking expects about the positives' share.
   */
  static double averagePrecision(Map<String, Double> scores, Collection<String> positives,
                                 Collection<String> negatives) {
    if (positives.isEmpty() || negatives.isEmpty()) {
      throw new IllegalArgumentException("AUPRC needs positives and negatives, got " + positives.size() + " and "
          + negatives.size());
    }
    Set<String> pos = new java.util.HashSet<>(positives);
    Set<String> neg = new java.util.HashSet<>(negatives);
    int seen = 0;
    int hits = 0;
    double sum = 0;
    for (String id : ranking(scores)) {
      if (!pos.contains(id) && !neg.contains(id)) {
        continue;
      }
      seen++;
      if (pos.contains(id)) {
        hits++;
        sum += (double) hits / seen;
      }
    }
    if (hits != pos.size()) {
      throw new IllegalArgumentException((pos.size() - hits) + " positives have no score");
    }
    return sum / pos.size();
  }

  /**
   * ROC AUC of {@code positives} against {@code negatives} (ids not in either are ignored): the probability
   * that a random positive scores above a random negative, ties counting one half (Mann-Whitney U with
   * mid-ranks).
   */
  static double auc(Map<String, Double> scores, Collection<String> positives, Collection<String> negatives) {
    int p = positives.size();
    int n = negatives.size();
    if (p == 0 || n == 0) {
      throw new IllegalArgumentException("AUC needs positives and negatives, got " + p + " and " + n);
    }
    double[][] all = new double[p + n][];
    int i = 0;
    for (String id : positives) {
      all[i++] = new double[] {score(scores, id), 1};
    }
    for (String id : negatives) {
      all[i++] = new double[] {score(scores, id), 0};
    }
    Arrays.sort(all, Comparator.comparingDouble(a -> a[0]));
    double rankSum = 0;
    for (int s = 0; s < all.length; ) {
      int e = s;
      while (e < all.length && all[e][0] == all[s][0]) {
        e++;
      }
      double mid = (s + 1 + e) / 2.0;   // mean of ranks s+1 .. e
      for (int j = s; j < e; j++) {
        if (all[j][1] == 1) {
          rankSum += mid;
        }
      }
      s = e;
    }
    return (rankSum - p * (p + 1) / 2.0) / ((double) p * n);
  }

  private static double score(Map<String, Double> scores, String id) {
    Double s = scores.get(id);
    if (s == null) {
      throw new IllegalArgumentException("no score for " + id);
    }
    return s;
  }
}
