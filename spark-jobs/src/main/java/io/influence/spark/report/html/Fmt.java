package io.influence.spark.report.html;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.Locale;

/**
 * Number formats of the report, locale-independent so the same input gives the same bytes on
 * every machine. Shown values have 4 significant digits: plain notation when the rounded
 * magnitude lies in [1e-3, 1e4), scientific ({@code 1.235e-05}) otherwise. Tooltips carry the
 * exact value ({@link Double#toString}, which parses back to the same double).
 */
final class Fmt {

  private static final MathContext FOUR = new MathContext(4, RoundingMode.HALF_EVEN);

  private Fmt() {}

  static String num(double x) {
    if (x == 0) {
      return "0";
    }
    BigDecimal rounded = new BigDecimal(x).round(FOUR);
    double magnitude = Math.abs(rounded.doubleValue());
    if (magnitude >= 1e-3 && magnitude < 1e4) {
      if (rounded.precision() < 4) {
        rounded = rounded.setScale(rounded.scale() + 4 - rounded.precision(), RoundingMode.UNNECESSARY);
      }
      return rounded.toPlainString();
    }
    return String.format(Locale.ROOT, "%.3e", x);
  }

  /** {@link #num} with an explicit sign for non-negative values. */
  static String signed(double x) {
    return (x > 0 ? "+" : "") + num(x);
  }

  static String exact(double x) {
    return Double.toString(x);
  }

  static String percent(double fraction) {
    return String.format(Locale.ROOT, "%.2f%%", 100 * fraction);
  }

  /** Coordinates and opacities: fixed decimals, no exponent. */
  static String fixed(double x, int decimals) {
    String s = String.format(Locale.ROOT, "%." + decimals + "f", x);
    return s.startsWith("-") && Double.parseDouble(s) == 0 ? s.substring(1) : s;
  }
}
