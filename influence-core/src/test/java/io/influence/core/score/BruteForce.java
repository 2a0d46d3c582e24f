package io.influence.core.score;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Reference ranking: a full sort of every score (float64), best first, ties by id ascending. Shared with the Spark
 * jobs' tests (influence-core's test jar).
 */
public final class BruteForce {

  private BruteForce() {}

  public static double dot(float[] a, float[] b) {
    double s = 0;
    for (int j = 0; j < a.length; j++) {
      s += (double) a[j] * b[j];
    }
    return s;
  }

  public static List<TopK.Scored> sorted(List<String> ids, double[] scores, boolean largest, int k) {
    List<TopK.Scored> all = new ArrayList<>();
    for (int t = 0; t < ids.size(); t++) {
      all.add(new TopK.Scored(ids.get(t), scores[t]));
    }
    Comparator<TopK.Scored> byScore = Comparator.comparingDouble(TopK.Scored::score);
    all.sort((largest ? byScore.reversed() : byScore).thenComparing(TopK.Scored::id));
    return all.subList(0, Math.min(k, all.size()));
  }
}
