package io.influence.spark.report;

import java.util.List;

/**
 * The self-influence part of the report: the highest self-influence sequences, a sample of all
 * self-influence scores for the histogram, and the fraction of the corpus the rule flags.
 */
public record SelfInfluenceSection(
    List<FlaggedSequence> top, double[] histogramScores, double flagFraction) {
  public SelfInfluenceSection {
    top = Checks.list(top, "self-influence top");
    histogramScores = Checks.finiteCopy(histogramScores, "self-influence histogramScores");
    Checks.finite(flagFraction, "self-influence flagFraction");
    if (flagFraction < 0 || flagFraction > 1) {
      throw new IllegalArgumentException(
          "self-influence flagFraction is " + flagFraction + ". HINT: a fraction lies in [0, 1].");
    }
  }

  /** A copy of the score sample. */
  @Override
  public double[] histogramScores() {
    return histogramScores.clone();
  }
}
