package io.influence.spark.flag;

import io.influence.spark.config.FlagSettings.Aggregate;
import java.io.Serializable;
import java.math.BigDecimal;
import java.math.MathContext;

/**
 * The {@code reason} column: one sentence a person reads in a cleaning pipeline's log, e.g.
 * {@code mean normalised influence on 5 unwanted examples in the top 1% (rank 3 of 466); strongest on example ex-2}.
 *
 * @param aggregate the aggregate that ranks
 * @param examples  how many examples
 * @param combined  whether the rank also counts self-influence
 * @param selection what is flagged, in words ("top 1%", "top 20")
 */
record FlagReasons(Aggregate aggregate, int examples, boolean combined, String selection) implements Serializable {

  /** The words of what is flagged: {@code top 20} with a top-k, else {@code top 1%} (the fraction in percent). */
  static String selection(double fraction, int topK) {
    if (topK > 0) {
      return "top " + topK;
    }
    BigDecimal percent = new BigDecimal(fraction * 100, new MathContext(4)).stripTrailingZeros();
    return "top " + percent.toPlainString() + "%";
  }

  /** The reason of the sequence at 1-based {@code rank} (highest score first) of {@code n}. */
  String of(boolean flagged, long rank, long n, String strongest) {
    String what = (aggregate == Aggregate.MEAN ? "mean normalised influence on " : "max normalised influence over ")
        + examples + " unwanted example" + (examples == 1 ? "" : "s")
        + (combined ? " combined with self-influence (mean of quantiles)" : "");
    String where = flagged ? " in the " + selection + " (rank " + rank + " of " + n + ")"
        : " at rank " + rank + " of " + n + ", outside the " + selection;
    return what + where + "; strongest on example " + strongest;
  }
}
