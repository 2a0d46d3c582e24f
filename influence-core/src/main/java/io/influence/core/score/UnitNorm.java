package io.influence.core.score;

/**
 * Unit normalisation of the checkpoint parts of a wide row: what cosine scores (TrackStar, Chang et al. 2024) divide
 * every training and query gradient by. A part whose norm is 0 stays 0 (it scores 0 against everything).
 */
public final class UnitNorm {

  private UnitNorm() {}

  /**
   * Divides each {@code part}-long slice of {@code a[from, from + width)} by its Euclidean norm (accumulated in
   * float64); {@code width} must be a multiple of {@code part}.
   */
  public static void normalizeParts(float[] a, int from, int width, int part) {
    if (part < 1 || width % part != 0) {
      throw new IllegalArgumentException("a row of " + width + " values does not split into parts of " + part);
    }
    for (int start = from; start < from + width; start += part) {
      double ss = 0;
      for (int j = start; j < start + part; j++) {
        ss += (double) a[j] * a[j];
      }
      if (ss > 0) {
        double inv = 1 / Math.sqrt(ss);
        for (int j = start; j < start + part; j++) {
          a[j] = (float) (a[j] * inv);
        }
      }
    }
  }
}
