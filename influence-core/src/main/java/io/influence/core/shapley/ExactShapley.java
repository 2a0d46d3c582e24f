package io.influence.core.shapley;

/**
 * Exact Shapley values by enumerating all {@code 2^n} coalitions:
 * {@code φ_i = Σ_{S ⊆ D∖{i}} |S|!(n−|S|−1)!/n! · (V(S ∪ {i}) − V(S))}. For checks ({@code n ≤ 16}:
 * {@code 2^n} utility evaluations).
 */
public final class ExactShapley {

  /** Largest game enumerated. */
  public static final int MAX_PLAYERS = 16;

  private ExactShapley() {}

  /** Every player's exact value for every target; standard errors 0, {@code permutations} 0. */
  public static ShapleyValues of(Utility utility) {
    int n = utility.players();
    int targets = utility.targets();
    if (n < 1 || n > MAX_PLAYERS) {
      throw new IllegalArgumentException("exact Shapley enumerates 2^n coalitions; need 1 <= n <= " + MAX_PLAYERS
          + ", got " + n);
    }
    double[][] v = new double[1 << n][];
    for (int mask = 0; mask < v.length; mask++) {
      int[] members = new int[Integer.bitCount(mask)];
      int k = 0;
      for (int i = 0; i < n; i++) {
        if ((mask & (1 << i)) != 0) {
          members[k++] = i;
        }
      }
      v[mask] = utility.value(members);
    }
    double[] weight = new double[n]; // weight[s] = s!(n−s−1)!/n!
    for (int s = 0; s < n; s++) {
      weight[s] = Math.exp(logFactorial(s) + logFactorial(n - s - 1) - logFactorial(n));
    }
    double[][] values = new double[n][targets];
    double[] overall = new double[n];
    for (int i = 0; i < n; i++) {
      int bit = 1 << i;
      for (int mask = 0; mask < v.length; mask++) {
        if ((mask & bit) == 0) {
          double w = weight[Integer.bitCount(mask)];
          for (int t = 0; t < targets; t++) {
            values[i][t] += w * (v[mask | bit][t] - v[mask][t]);
          }
        }
      }
      for (int t = 0; t < targets; t++) {
        overall[i] += values[i][t];
      }
    }
    double[] total = new double[targets];
    for (int t = 0; t < targets; t++) {
      for (int i = 0; i < n; i++) {
        total[t] += values[i][t];
      }
    }
    return new ShapleyValues(values, new double[n][targets], overall, new double[n], total, new double[targets], 0,
        v.length, 0, false, Double.NaN);
  }

  private static double logFactorial(int k) {
    double s = 0;
    for (int i = 2; i <= k; i++) {
      s += Math.log(i);
    }
    return s;
  }
}
