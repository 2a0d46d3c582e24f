package io.influence.spark.report.html;

import java.util.List;
import java.util.Map;
import java.util.function.DoubleUnaryOperator;

/**
 * Inline SVG charts drawn in Java: a histogram with labelled marker lines, and diverging
 * horizontal bars for signed per-layer / per-checkpoint values. No scripts; every label goes
 * through {@link Html#escape}; coordinates use fixed decimals so output is byte-stable.
 *
 * <p>Histogram bins: Rice rule {@code ceil(2 n^(1/3))} clamped to [5, 40], equal width over
 * [min, max] of the sample (a degenerate range is widened to ±0.5 around its value); the last
 * bin is closed on the right.
 */
final class Charts {

  /** A vertical line drawn over a histogram at {@code value}, with a label. */
  record Marker(String label, double value, String cssClass) {}

  private static final int HIST_W = 540;
  private static final int HIST_H = 210;
  private static final int M_LEFT = 44;
  private static final int M_RIGHT = 14;
  private static final int M_TOP = 40;
  private static final int M_BOTTOM = 34;

  /** Bar labels longer than this are cut with an ellipsis (the full name is in the tooltip). */
  static final int MAX_LABEL = 26;

  private Charts() {}

  static String shorten(String s, int max) {
    if (s.codePointCount(0, s.length()) <= max) {
      return s;
    }
    return s.substring(0, s.offsetByCodePoints(0, max - 1)) + "\u2026";
  }

  static int binCount(int n) {
    int rice = (int) Math.ceil(2 * Math.cbrt(n));
    return Math.max(5, Math.min(40, rice));
  }

  /**
   * A histogram of {@code values} with marker lines. {@code signed}: bars are coloured by the
   * sign of their bin (query scores); otherwise bars are neutral and, when every value and marker
   * is positive and they span at least two decades, bins are equal-width in log10 (the heavy
   * right tail of self-influence scores).
   */
  static void histogram(
      StringBuilder out, double[] values, List<Marker> markers, String caption, boolean signed) {
    if (values.length == 0) {
      out.append("<p class=\"empty\">No scores sampled.</p>\n");
      return;
    }
    double lo = Double.POSITIVE_INFINITY;
    double hi = Double.NEGATIVE_INFINITY;
    for (double v : values) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    for (Marker m : markers) {
      lo = Math.min(lo, m.value());
      hi = Math.max(hi, m.value());
    }
    boolean log = !signed && lo > 0 && hi / lo >= 100;
    DoubleUnaryOperator f = log ? Math::log10 : DoubleUnaryOperator.identity();
    DoubleUnaryOperator g = log ? t -> Math.pow(10, t) : DoubleUnaryOperator.identity();
    double tlo = f.applyAsDouble(lo);
    double thi = f.applyAsDouble(hi);
    if (tlo == thi) {
      tlo -= 0.5;
      thi += 0.5;
    }
    int bins = binCount(values.length);
    long[] counts = new long[bins];
    double width = (thi - tlo) / bins;
    for (double v : values) {
      int b = (int) Math.floor((f.applyAsDouble(v) - tlo) / width);
      counts[Math.max(0, Math.min(bins - 1, b))]++;
    }
    long maxCount = 1;
    for (long c : counts) {
      maxCount = Math.max(maxCount, c);
    }
    double plotW = HIST_W - M_LEFT - M_RIGHT;
    double plotH = HIST_H - M_TOP - M_BOTTOM;
    double base = M_TOP + plotH;
    double t0 = tlo;
    double t1 = thi;
    DoubleUnaryOperator x = v -> M_LEFT + (f.applyAsDouble(v) - t0) / (t1 - t0) * plotW;

    out.append("<figure class=\"chart\"><svg class=\"hist\" xmlns=\"http://www.w3.org/2000/svg\" ")
        .append("viewBox=\"0 0 ").append(HIST_W).append(' ').append(HIST_H)
        .append("\" width=\"").append(HIST_W).append("\" height=\"").append(HIST_H)
        .append("\" role=\"img\" aria-label=\"").append(Html.escape(caption)).append("\">\n");
    for (int b = 0; b < bins; b++) {
      double a = g.applyAsDouble(tlo + b * width);
      double z = g.applyAsDouble(b == bins - 1 ? thi : tlo + (b + 1) * width);
      double h = counts[b] * plotH / maxCount;
      String cls = !signed ? "bar s" : z <= 0 ? "bar n" : a >= 0 ? "bar p" : "bar m";
      out.append("<rect class=\"").append(cls).append("\" x=\"")
          .append(Fmt.fixed(M_LEFT + b * plotW / bins, 2))
          .append("\" y=\"").append(Fmt.fixed(base - h, 2))
          .append("\" width=\"").append(Fmt.fixed(Math.max(0.5, plotW / bins - 1), 2))
          .append("\" height=\"").append(Fmt.fixed(h, 2)).append("\"><title>")
          .append(Html.escape("[" + Fmt.num(a) + ", " + Fmt.num(z) + (b == bins - 1 ? "]" : ")")
              + ": " + counts[b]))
          .append("</title></rect>\n");
    }
    out.append("<line class=\"axis\" x1=\"").append(M_LEFT).append("\" y1=\"").append(Fmt.fixed(base, 2))
        .append("\" x2=\"").append(HIST_W - M_RIGHT).append("\" y2=\"").append(Fmt.fixed(base, 2))
        .append("\"/>\n");
    if (!log && lo < 0 && hi > 0) {
      double zx = x.applyAsDouble(0);
      out.append("<line class=\"zero\" x1=\"").append(Fmt.fixed(zx, 2)).append("\" y1=\"").append(M_TOP)
          .append("\" x2=\"").append(Fmt.fixed(zx, 2)).append("\" y2=\"").append(Fmt.fixed(base, 2))
          .append("\"/>\n");
      if (zx - M_LEFT > 70 && HIST_W - M_RIGHT - zx > 70) { // keep clear of the end labels
        label(out, zx, base + 14, "middle", "tick", "0");
      }
    }
    label(out, M_LEFT, base + 14, "start", "tick", Fmt.num(g.applyAsDouble(tlo)));
    label(out, HIST_W - M_RIGHT, base + 14, "end", "tick", Fmt.num(g.applyAsDouble(thi)));
    label(out, M_LEFT - 4, M_TOP + 4, "end", "tick", Long.toString(maxCount));
    label(out, M_LEFT - 4, base, "end", "tick", "0");
    label(out, M_LEFT + plotW / 2, HIST_H - 4, "middle", "axis-label",
        "score (" + (log ? "log scale, " : "") + values.length + " sampled)");
    int lineTop = 16 + 13 * (markers.size() - 1);
    int i = 0;
    for (Marker m : markers) {
      double lx = x.applyAsDouble(m.value());
      String mx = Fmt.fixed(lx, 2);
      out.append("<line class=\"marker ").append(Html.escape(m.cssClass())).append("\" x1=\"").append(mx)
          .append("\" y1=\"").append(lineTop).append("\" x2=\"").append(mx).append("\" y2=\"")
          .append(Fmt.fixed(base, 2)).append("\"><title>")
          .append(Html.escape(m.label() + " " + Fmt.exact(m.value()))).append("</title></line>\n");
      String anchor = lx > M_LEFT + plotW * 0.6 ? "end" : "start";
      label(out, lx + ("end".equals(anchor) ? -3 : 3), 12 + 13 * i, anchor,
          "marker-label " + m.cssClass(), m.label() + " " + Fmt.num(m.value()));
      i++;
    }
    out.append("</svg><figcaption>").append(Html.escape(caption)).append("</figcaption></figure>\n");
  }

  /** Diverging horizontal bars for signed values in the map's iteration order; nothing for an empty map. */
  static void bars(StringBuilder out, Map<String, Double> values, String caption) {
    if (values.isEmpty()) {
      return;
    }
    int labelW = 160;
    int valueW = 74;
    int w = 500;
    int row = 16;
    int top = 6;
    int h = top + row * values.size() + 6;
    double maxAbs = 0;
    boolean anyNeg = false;
    for (double v : values.values()) {
      maxAbs = Math.max(maxAbs, Math.abs(v));
      anyNeg |= v < 0;
    }
    double plotW = w - labelW - valueW;
    // zero at the left edge when all values are non-negative, in the middle otherwise
    double zero = anyNeg ? labelW + plotW / 2 : labelW;
    double half = anyNeg ? plotW / 2 : plotW;
    out.append("<figure class=\"chart\"><svg class=\"bars\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 ")
        .append(w).append(' ').append(h).append("\" width=\"").append(w).append("\" height=\"").append(h)
        .append("\" role=\"img\" aria-label=\"").append(Html.escape(caption)).append("\">\n");
    int r = 0;
    for (Map.Entry<String, Double> e : values.entrySet()) {
      double v = e.getValue();
      double len = maxAbs == 0 ? 0 : Math.abs(v) / maxAbs * half;
      double y = top + r * row;
      double bx = v < 0 ? zero - len : zero;
      out.append("<g><title>").append(Html.escape(e.getKey() + ": " + Fmt.exact(v))).append("</title>");
      label(out, labelW - 6, y + 11.5, "end", "bar-label", shorten(e.getKey(), MAX_LABEL));
      out.append("<rect class=\"").append(v < 0 ? "bar n" : "bar p").append("\" x=\"").append(Fmt.fixed(bx, 2))
          .append("\" y=\"").append(Fmt.fixed(y + 2, 2)).append("\" width=\"").append(Fmt.fixed(len, 2))
          .append("\" height=\"").append(row - 4).append("\"/>");
      label(out, w - valueW + 6, y + 11.5, "start", "bar-value", Fmt.signed(v));
      out.append("</g>\n");
      r++;
    }
    out.append("<line class=\"zero\" x1=\"").append(Fmt.fixed(zero, 2)).append("\" y1=\"").append(top)
        .append("\" x2=\"").append(Fmt.fixed(zero, 2)).append("\" y2=\"").append(h - 4).append("\"/>\n");
    out.append("</svg><figcaption>").append(Html.escape(caption)).append("</figcaption></figure>\n");
  }

  private static void label(StringBuilder out, double x, double y, String anchor, String cls, String text) {
    out.append("<text class=\"").append(cls).append("\" x=\"").append(Fmt.fixed(x, 2)).append("\" y=\"")
        .append(Fmt.fixed(y, 2)).append("\" text-anchor=\"").append(anchor).append("\">")
        .append(Html.escape(text)).append("</text>");
  }
}
