package io.influence.spark.report;

import java.util.List;
import java.util.Map;

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

  private static final int HIST_W = 560;
  private static final int HIST_H = 190;
  private static final int M_LEFT = 44;
  private static final int M_RIGHT = 14;
  private static final int M_TOP = 22;
  private static final int M_BOTTOM = 34;

  private Charts() {}

  static int binCount(int n) {
    int rice = (int) Math.ceil(2 * Math.cbrt(n));
    return Math.max(5, Math.min(40, rice));
  }

  static void histogram(StringBuilder out, double[] values, List<Marker> markers, String caption) {
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
    if (lo == hi) {
      lo -= 0.5;
      hi += 0.5;
    }
    int bins = binCount(values.length);
    long[] counts = new long[bins];
    double width = (hi - lo) / bins;
    for (double v : values) {
      int b = (int) Math.floor((v - lo) / width);
      counts[Math.max(0, Math.min(bins - 1, b))]++;
    }
    long maxCount = 1;
    for (long c : counts) {
      maxCount = Math.max(maxCount, c);
    }
    double plotW = HIST_W - M_LEFT - M_RIGHT;
    double plotH = HIST_H - M_TOP - M_BOTTOM;
    double base = M_TOP + plotH;
    double lo0 = lo;
    double hi0 = hi;
    java.util.function.DoubleUnaryOperator x = v -> M_LEFT + (v - lo0) / (hi0 - lo0) * plotW;

    out.append("<figure class=\"chart\"><svg class=\"hist\" xmlns=\"http://www.w3.org/2000/svg\" ")
        .append("viewBox=\"0 0 ").append(HIST_W).append(' ').append(HIST_H)
        .append("\" width=\"").append(HIST_W).append("\" height=\"").append(HIST_H)
        .append("\" role=\"img\" aria-label=\"").append(Html.escape(caption)).append("\">\n");
    for (int b = 0; b < bins; b++) {
      double a = lo + b * width;
      double z = b == bins - 1 ? hi : lo + (b + 1) * width;
      double h = counts[b] * plotH / maxCount;
      String cls = z <= 0 ? "bar n" : a >= 0 ? "bar p" : "bar m";
      out.append("<rect class=\"").append(cls).append("\" x=\"").append(Fmt.fixed(x.applyAsDouble(a), 2))
          .append("\" y=\"").append(Fmt.fixed(base - h, 2))
          .append("\" width=\"").append(Fmt.fixed(Math.max(0.5, plotW / bins - 1), 2))
          .append("\" height=\"").append(Fmt.fixed(h, 2)).append("\"><title>")
          .append(Html.escape("[" + Fmt.num(a) + ", " + Fmt.num(z) + (b == bins - 1 ? "]" : ")")
              + ": " + counts[b]))
          .append("</title></rect>\n");
    }
    // axes
    out.append("<line class=\"axis\" x1=\"").append(M_LEFT).append("\" y1=\"").append(Fmt.fixed(base, 2))
        .append("\" x2=\"").append(HIST_W - M_RIGHT).append("\" y2=\"").append(Fmt.fixed(base, 2)).append("\"/>\n");
    if (lo < 0 && hi > 0) {
      String zx = Fmt.fixed(x.applyAsDouble(0), 2);
      out.append("<line class=\"zero\" x1=\"").append(zx).append("\" y1=\"").append(M_TOP)
          .append("\" x2=\"").append(zx).append("\" y2=\"").append(Fmt.fixed(base, 2)).append("\"/>\n");
      label(out, x.applyAsDouble(0), base + 14, "middle", "tick", "0");
    }
    label(out, M_LEFT, base + 14, "start", "tick", Fmt.num(lo));
    label(out, HIST_W - M_RIGHT, base + 14, "end", "tick", Fmt.num(hi));
    label(out, M_LEFT - 4, M_TOP + 4, "end", "tick", Long.toString(maxCount));
    label(out, M_LEFT - 4, base, "end", "tick", "0");
    label(out, M_LEFT + plotW / 2, HIST_H - 4, "middle", "axis-label", "score (" + values.length + " sampled)");
    int i = 0;
    for (Marker m : markers) {
      String mx = Fmt.fixed(x.applyAsDouble(m.value()), 2);
      out.append("<line class=\"marker ").append(Html.escape(m.cssClass())).append("\" x1=\"").append(mx)
          .append("\" y1=\"").append(M_TOP - 4).append("\" x2=\"").append(mx).append("\" y2=\"")
          .append(Fmt.fixed(base, 2)).append("\"><title>")
          .append(Html.escape(m.label() + " = " + Fmt.exact(m.value()))).append("</title></line>\n");
      double lx = x.applyAsDouble(m.value());
      String anchor = lx > M_LEFT + plotW * 0.6 ? "end" : "start";
      label(out, lx + ("end".equals(anchor) ? -3 : 3), M_TOP - 8 + 11 * i, anchor,
          "marker-label " + m.cssClass(), m.label() + " " + Fmt.num(m.value()));
      i++;
    }
    out.append("</svg><figcaption>").append(Html.escape(caption)).append("</figcaption></figure>\n");
  }

  /** Diverging horizontal bars for signed values in the map's iteration order. */
  static void bars(StringBuilder out, Map<String, Double> values, String caption) {
    if (values.isEmpty()) {
      out.append("<p class=\"empty\">No breakdown given.</p>\n");
      return;
    }
    int labelW = 150;
    int valueW = 78;
    int w = 560;
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
      label(out, labelW - 6, y + 11.5, "end", "bar-label", e.getKey());
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
