package io.influence.core.score;

import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/** Correlation statistics used by tests and benchmarks to compare score vectors. */
public final class Stats {

  private Stats() {}

  /** Pearson correlation of two equal-length samples (n >= 2, neither constant). */
  public static double pearson(double[] x, double[] y) {
    check(x, y);
    int n = x.length;
    double mx = 0;
    double my = 0;
    for (int i = 0; i < n; i++) {
      mx += x[i];
      my += y[i];
    }
    mx /= n;
    my /= n;
    double sxy = 0;
    double sxx = 0;
    double syy = 0;
    for (int i = 0; i < n; i++) {
      double dx = x[i] - mx;
      double dy = y[i] - my;
      sxy += dx * dy;
      sxx += dx * dx;
      syy += dy * dy;
    }
    if (sxx == 0 || syy == 0) {
      throw new IllegalArgumentException("correlation is undefined for a constant sample");
    }
    return sxy / Math.sqrt(sxx * syy);
  }

  /** Spearman rank correlation (Pearson of ranks; ties get their average rank). */
  public static double spearman(double[] x, double[] y) {
    check(x, y);
    return pearson(ranks(x), ranks(y));
  }

  /** 1-based ranks, ties averaged. */
  static double[] ranks(double[] x) {
    Integer[] order = IntStream.range(0, x.length).boxed().toArray(Integer[]::new);
    Arrays.sort(order, Comparator.comparingDouble(i -> x[i]));
    double[] r = new double[x.length];
    int i = 0;
    while (i < order.length) {
      int j = i;
      while (j + 1 < order.length && x[order[j + 1]] == x[order[i]]) {
        j++;
      }
      double avg = (i + j) / 2.0 + 1;
      for (int m = i; m <= j; m++) {
        r[order[m]] = avg;
      }
      i = j + 1;
    }
    return r;
  }

  private static void check(double[] x, double[] y) {
    if (x.length != y.length || x.length < 2) {
      throw new IllegalArgumentException("need two samples of equal length >= 2, got " + x.length + " and " + y.length);
    }
    for (int i = 0; i < x.length; i++) {
      if (!Double.isFinite(x[i]) || !Double.isFinite(y[i])) {
        throw new IllegalArgumentException("sample holds a non-finite value at index " + i);
      }
    }
  }
}
