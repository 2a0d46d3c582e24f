package io.influence.spark.report.html;

import io.influence.spark.report.QueryResult;
import java.util.List;

/**
 * One query's kept training sequences with their tokens, each sequence once ({@link KeptSequences}), collapsed.
 *
 * <p>Every token is one span that carries one shade class per method that keeps the sequence: {@code ap3} is method
 * {@code a} (the query's first token-carrying column), positive, shade 3 of {@value Css#LEVELS}; {@code bn7} method
 * {@code b}, negative, shade 7; no class for a zero contribution. Radio inputs above the sequences pick the method
 * whose classes are drawn ({@code .ka:checked ~ .seqs .ap3} in {@link Css#levels}), so the page needs no script and
 * switching methods re-shades the same tokens. The title of a token lists every keeping method's contribution to 4
 * significant digits, one line per method ({@code a +1.234e-03}, newline, {@code b -2.100e-04}); the head of a sequence says, per method, where it keeps
 * the sequence, its score and its largest |contribution| (the picked method's line is highlighted).
 */
final class TokenPart {

  private TokenPart() {}

  /** The key of the {@code k}-th (0-based) token-carrying column: a, b, ... z, then k26, k27, ... */
  static String key(int k) {
    return k < 26 ? String.valueOf((char) ('a' + k)) : "k" + k;
  }

  /** Appends the query's token part; nothing when no column carries tokens (only Data Shapley columns). */
  static void render(StringBuilder out, QuerySection section, String queryAnchor) {
    List<QuerySection.Column> columns = section.columns().stream().filter(c -> c.result() != null).toList();
    if (columns.isEmpty()) {
      return;
    }
    List<QueryResult> methods = columns.stream().map(QuerySection.Column::result).toList();
    List<KeptSequences.Kept> kept = KeptSequences.of(methods);
    long top = kept.stream().filter(KeptSequences.Kept::top).count();
    out.append("<details class=\"tokens-part\" id=\"").append(queryAnchor).append("-tokens\"><summary>Tokens of the ")
        .append(kept.size()).append(kept.size() == 1 ? " kept training sequence" : " kept training sequences")
        .append(", each once, shaded by the method you pick</summary>\n<div class=\"shade\">\n<span class=\"pick\">"
            + "Shade by:</span>");
    for (int k = 0; k < columns.size(); k++) {
      String id = queryAnchor + "-k" + key(k);
      out.append(" <input type=\"radio\" name=\"").append(queryAnchor).append("-shade\" id=\"").append(id)
          .append("\" class=\"k").append(key(k)).append("\"").append(k == 0 ? " checked" : "").append("><label for=\"")
          .append(id).append("\"><b>").append(key(k)).append("</b> ");
      Html.escapeTo(out, columns.get(k).label(), false);
      out.append("</label>");
    }
    out.append("\n<p class=\"pick-note\">A token's tooltip lists each keeping method's contribution by its letter; a"
        + " sequence the picked method does not keep stays unshaded.</p>\n");
    group(out, kept, true, top, "In a top-k: supporting", queryAnchor);
    group(out, kept, false, kept.size() - top, "Only in a bottom-k: opposing", queryAnchor);
    out.append("</div>\n</details>\n");
  }

  private static void group(StringBuilder out, List<KeptSequences.Kept> kept, boolean top, long n, String heading,
                            String queryAnchor) {
    if (n == 0) {
      return;
    }
    String kind = top ? "top" : "bottom";
    out.append("<div class=\"seqs ").append(kind).append("\" id=\"").append(queryAnchor).append("-tokens-").append(kind)
        .append("\">\n<h3>").append(heading).append(" (").append(n).append(")</h3>\n");
    for (KeptSequences.Kept s : kept) {
      if (s.top() == top) {
        sequence(out, s);
      }
    }
    out.append("</div>\n");
  }

  private static void sequence(StringBuilder out, KeptSequences.Kept s) {
    out.append("<article class=\"seq\">\n<div class=\"seq-head\"><code class=\"train-id\">");
    Html.escapeTo(out, s.trainId(), false);
    out.append("</code> <span class=\"meta\">").append(s.texts().size()).append(" tokens</span>");
    s.byKey().forEach((k, shading) -> {
      out.append(" <span class=\"by m-").append(key(k)).append("\"><b>").append(key(k)).append("</b> <span class=\"rank\">")
          .append(String.join(", ", shading.places())).append("</span> <span class=\"score ")
          .append(shading.score() < 0 ? "neg" : "pos").append("\" title=\"score = ").append(Fmt.exact(shading.score()))
          .append("\">score ").append(Fmt.signed(shading.score())).append("</span> <span class=\"meta\">max |c| ")
          .append(Fmt.num(shading.maxAbs())).append("</span></span>");
    });
    out.append("</div>\n<div class=\"tokens\">");
    for (int t = 0; t < s.texts().size(); t++) {
      token(out, s, t);
    }
    out.append("</div>\n</article>\n");
  }

  /**
   * A token: one span (no class of its own: the style sheet reaches it as {@code .tokens>span}), one shade class per
   * keeping method with a non-zero contribution, and every keeping method's value in the title, one line each.
   */
  private static void token(StringBuilder out, KeptSequences.Kept s, int t) {
    out.append("<span");
    boolean any = false;
    for (var e : s.byKey().entrySet()) {
      double c = e.getValue().contributions()[t];
      int level = KeptSequences.level(c, e.getValue().maxAbs());
      if (level > 0) {
        out.append(any ? " " : " class=\"").append(key(e.getKey())).append(c > 0 ? 'p' : 'n').append(level);
        any = true;
      }
    }
    if (any) {   // a shade only for a non-zero value: some value is non-zero
      out.append("\" title=\"");
      boolean first = true;
      for (var e : s.byKey().entrySet()) {
        out.append(first ? "" : "\n").append(key(e.getKey())).append(' ')
            .append(Fmt.signed(e.getValue().contributions()[t]));
        first = false;
      }
      out.append('"');
    }
    out.append('>');
    String text = s.texts().get(t);
    if (text.isEmpty()) {
      out.append("<span class=\"empty-tok\">∅</span>");
    } else {
      Html.escapeTo(out, text, true);
    }
    out.append("</span>");
  }
}
