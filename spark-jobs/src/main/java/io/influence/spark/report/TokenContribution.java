package io.influence.spark.report;

/**
 * One decoded token of a training sequence and its contribution to the sequence's score
 * (the contributions of a sequence's tokens need not sum to the score; the report only shows
 * them). {@code text} may hold any characters; the report escapes it.
 */
public record TokenContribution(String text, double contribution) {
  public TokenContribution {
    Checks.notNull(text, "token text");
    Checks.finite(contribution, "contribution of token '" + text + "'");
  }
}
