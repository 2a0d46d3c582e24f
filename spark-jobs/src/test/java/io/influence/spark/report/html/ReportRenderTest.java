package io.influence.spark.report.html;

import io.influence.spark.report.Report;
import io.influence.spark.report.QueryResult;
import io.influence.spark.report.RankedSequence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReportRenderTest {

  private static final Set<String> ALLOWED_TAGS = Set.of("html", "head", "meta", "title", "style", "body",
      "header", "h1", "h2", "h3", "h4", "p", "nav", "ol", "li", "a", "code", "section", "div", "span", "b", "sub",
      "sup", "em", "table", "thead", "tbody", "tr", "th", "td", "details", "summary", "article", "figure",
      "figcaption", "svg", "rect", "line", "text", "g", "footer", "input", "label");
  private static final Set<String> ALLOWED_ATTRIBUTES = Set.of("lang", "charset", "http-equiv", "content", "name",
      "class", "id", "href", "style", "title", "viewBox", "xmlns", "width", "height", "role", "aria-label", "x", "y",
      "x1", "y1", "x2", "y2", "text-anchor", "type", "for", "checked");
  private static final Pattern TOKEN_STYLE = Pattern.compile("background:rgba\\((33,102,172|178,24,43),[01]\\.\\d{3}\\)");

  @TempDir Path dir;

  /** Token spans: the spans directly inside the token blocks. */
  static int tokenSpans(String html) {
    return TokenShades.spans(html);
  }

  private static int count(String haystack, String needle) {
    int n = 0;
    for (int i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + 1)) {
      n++;
    }
    return n;
  }

  @Test
  void render_hostileText_emitsNoScriptAndOnlyKnownMarkup() {
    String html = ReportWriter.render(SampleReports.hostile("Report"));
    assertEquals(0, count(html.toLowerCase(Locale.ROOT), "<script"));
    assertEquals(1, count(html.toLowerCase(Locale.ROOT), "</style"));
    assertEquals(0, count(html.toLowerCase(Locale.ROOT), "<img"));
    for (Markup.Tag tag : Markup.tags(html)) {
      assertTrue(ALLOWED_TAGS.contains(tag.name()), () -> "unexpected tag " + tag);
      for (Map.Entry<String, String> a : tag.attributes().entrySet()) {
        assertTrue(ALLOWED_ATTRIBUTES.contains(a.getKey()), () -> "unexpected attribute in " + tag);
        if (a.getKey().equals("href")) {
          assertTrue(a.getValue().matches("#[a-z0-9-]+"), () -> "non-local link " + tag);
        }
        if (a.getKey().equals("style") && tag.name().equals("span")) {
          assertTrue(TOKEN_STYLE.matcher(a.getValue()).matches(), () -> "unexpected style " + tag);
        }
      }
    }
  }

  @Test
  void render_hostileText_appearsEscapedEverywhere() {
    String html = ReportWriter.render(SampleReports.hostile("Report"));
    assertTrue(html.contains("&lt;script&gt;document.title=&#39;PWNED&#39;&lt;/script&gt;"));
    assertTrue(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
    assertTrue(html.contains("&lt;/style&gt;&lt;style&gt;body{display:none}&lt;/style&gt;"));
    assertTrue(html.contains("&amp;amp; &amp;lt;b&amp;gt; &amp;#39;"));
    assertTrue(html.contains("it&#39;s &quot;quoted&quot; id"));
    assertTrue(html.contains("nul\u2400bell\u2407del\u2421c1\uFFFDend"));
    assertTrue(html.contains("lone\uFFFDhigh and \uFFFDlow"));
    // a token that is a line break is shown as a visible marker inside its span
    assertTrue(html.contains("<span>\u21B5\n</span>"));
  }

  @Test
  void render_shapleyValues_besideTheQueryWithValueStderrAndProvenanceEscaped() {
    Report report = SampleReports.hostile("Report");
    String html = ReportWriter.render(report);
    for (String raw : List.of(SampleReports.PWN, SampleReports.IMG, SampleReports.STYLE_BREAK)) {
      assertFalse(html.contains(raw), "unescaped " + raw);
    }
    int gradientSection = html.indexOf("<section class=\"query\" id=\"q1\">");
    int shapleySection = html.indexOf("<details class=\"method shapley\" id=\"q1-m2\">");
    assertTrue(gradientSection >= 0 && shapleySection > gradientSection, "the Shapley values sit in their query");
    assertFalse(html.contains("id=\"q2\""), "the query is shown once");
    // the side-by-side table: the Shapley column beside the gradient one, value ± standard error, agreement marked
    assertTrue(html.contains("<span class=\"score neg\" title=\"-0.5 ± 0.0625\">-0.5000</span> ± 0.06250"));
    // recount: the first top id is in both top-2 lists (safe-id-2 and safe-player-2 differ), the bottom id in both
    assertEquals(2, count(html, "<span class=\"agree\" title=\"in the top-2 of 2 of 2 methods\">2 agree</span>"));
    assertEquals(2, count(html, "<span class=\"agree\" title=\"in the bottom-1 of 2 of 2 methods\">2 agree</span>"));
    assertTrue(html.contains("∩ tmc-shapley: <span class=\"overlap\">1</span> of 2"));
    assertTrue(html.contains("<code class=\"train-id\">&lt;script&gt;document.title=&#39;PWNED&#39;&lt;/script&gt;"
        + "it&#39;s &quot;quoted&quot; id</code></td><td class=\"num\" title=\"value = 0.0123456; standard error = "
        + "0.00125\"><span class=\"score pos\">+0.01235</span> ± 0.001250</td><td class=\"num\">8</td>"));
    assertTrue(html.contains("title=\"value = -0.5; standard error = 0.0625\"><span class=\"score neg\">-0.5000</span>"
        + " ± 0.06250</td>"));
    assertTrue(html.contains("<th>Utility</th><td>&lt;script&gt;document.title=&#39;PWNED&#39;&lt;/script&gt;</td>"));
    assertTrue(html.contains("<th>Folder</th><td>&lt;/style&gt;&lt;style&gt;body{display:none}&lt;/style&gt;</td>"));
    assertTrue(html.contains("<th>Permutations</th><td>11 of at most 500</td>"));
    assertTrue(html.contains("<th>Converged</th><td>no (stopped at the permutation budget)</td>"));
    assertTrue(html.contains("<th>Truncated permutations</th><td>2</td>"));
    assertTrue(html.contains("column &quot;&gt;&lt;img src=x onerror=alert(1)&gt;)"));
    assertEquals(3, count(html, "<tr class=\"player\">"));
    // the run's line in the per-method provenance table, hostile folder and group column escaped
    String line = html.substring(html.indexOf("<tr class=\"run shapley\">"));
    line = line.substring(0, line.indexOf("</tr>"));
    assertTrue(line.startsWith("<tr class=\"run shapley\"><td><code>&lt;/style&gt;&lt;style&gt;body{display:none}"
        + "&lt;/style&gt;</code></td><td>tmc-shapley</td><td>none</td>"), line);
    assertTrue(line.contains("permutations 11 of at most 500, not converged (last relative change 0.2500)"), line);
    assertTrue(line.contains("truncation tolerance 0.01 (2 permutations truncated); 3500 fine-tunings; 3 players"
        + " (grouped by &quot;&gt;&lt;img src=x onerror=alert(1)&gt;); seed 7"), line);
    assertTrue(line.contains("title=\"standard error of a value, over 3 players × 1 query: largest 0.0625, median"
        + " 0.00125\">standard errors ≤ 0.06250 (median 0.001250)</span>"), line);
    assertTrue(line.contains("<code>checkpoint-6</code> (fine-tuned from)"), line);
  }

  @Test
  void render_hostileText_isValidUtf8() throws CharacterCodingException {
    String html = ReportWriter.render(SampleReports.hostile("Report"));
    StandardCharsets.UTF_8.newEncoder().onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT).encode(CharBuffer.wrap(html));
  }

  @Test
  void render_anyReport_cspMetaComesFirstInHead() {
    String html = ReportWriter.render(SampleReports.realistic());
    int csp = html.indexOf("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src &#39;none&#39;;"
        + " style-src &#39;unsafe-inline&#39;; img-src data:; base-uri &#39;none&#39;; form-action &#39;none&#39;\">");
    assertTrue(csp > 0);
    assertTrue(csp < html.indexOf("<title>"));
    assertTrue(csp < html.indexOf("<style>"));
    assertTrue(html.indexOf("<meta charset=\"utf-8\">") < csp);
  }

  @Test
  void render_sameInputTwice_identicalBytes() throws Exception {
    Path a = dir.resolve("a.html");
    Path b = dir.resolve("b.html");
    ReportWriter.write(SampleReports.realistic(), a);
    ReportWriter.write(SampleReports.realistic(), b);
    assertEquals(-1, Files.mismatch(a, b));
    assertEquals(ReportWriter.render(SampleReports.hostile("t")), ReportWriter.render(SampleReports.hostile("t")));
  }

  @Test
  void render_otherDefaultLocale_identicalOutput() {
    Locale saved = Locale.getDefault();
    String root = ReportWriter.render(SampleReports.realistic());
    try {
      Locale.setDefault(Locale.GERMANY);
      assertEquals(root, ReportWriter.render(SampleReports.realistic()));
    } finally {
      Locale.setDefault(saved);
    }
  }

  @Test
  void render_realistic_allSectionsAndSequencesPresent() {
    Report report = SampleReports.realistic();
    String html = ReportWriter.render(report);
    for (String id : List.of("legend", "provenance", "q1", "q2", "q1-top", "q1-bottom", "q2-top", "q2-bottom",
        "q1-m1", "q1-m1-top", "q2-m1-bottom", "self-influence")) {
      assertEquals(1, count(html, " id=\"" + id + "\""), id);
    }
    assertEquals(12, count(html, "<article class=\"seq\">"));
    assertEquals(SampleReports.tokenCount(report), tokenSpans(html));
    assertEquals(3, count(html, "<tr class=\"flagged\">"));
    // one histogram per query plus the self-influence one; bars: the 2 query-level splits; per query and list one
    // table of the kept rows' parts: 3 checkpoint lines and 12 layer lines, names once per table
    assertEquals(3, count(html, "<svg class=\"hist\""));
    assertEquals(2, count(html, "<svg class=\"bars\""));
    assertEquals(2, count(html, "<table class=\"grid parts top\">"));
    assertEquals(2, count(html, "<table class=\"grid parts bottom\">"));
    assertEquals(4 * 3, count(html, "<tr class=\"checkpoint\">"));
    assertEquals(4 * 12, count(html, "<tr class=\"layer\">"));
    assertFalse(html.contains("No breakdown given."));
    // the first table's columns are the first query's top rows: each line holds each row's part in rank order
    String table = html.substring(html.indexOf("<table class=\"grid parts top\">"));
    table = table.substring(0, table.indexOf("</table>"));
    QueryResult first = report.queries().get(0);
    for (String step : first.top().get(0).perCheckpoint().keySet()) {
      StringBuilder line = new StringBuilder("<tr class=\"checkpoint\"><th><code>" + step + "</code></th>");
      first.top().forEach(r -> line.append("<td class=\"num\">").append(Fmt.signed(r.perCheckpoint().get(step)))
          .append("</td>"));
      assertTrue(table.contains(line + "</tr>"), line.toString());
    }
    for (String step : List.of("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "<td class=\"num\">2000</td>")) {
      assertTrue(html.contains(step), step);
    }
    assertTrue(html.contains("/data/corpus &amp; co/&lt;train&gt;.arrow"));
    assertTrue(html.contains("lowers</em> the query loss"));
  }

  @Test
  void render_realistic_scoresShownWithFourDigitsAndExactTooltip() {
    String html = ReportWriter.render(SampleReports.realistic());
    assertTrue(html.contains("title=\"score = 0.0123456\">score +0.01235</span>"));
    assertTrue(html.contains("title=\"score = 3.2E-5\">score +3.200e-05</span>"));
    assertTrue(html.contains("title=\"score = -0.5\">score -0.5000</span>"));
    assertTrue(html.contains("title=\"812.5\">812.5</td>"));
    assertTrue(html.contains(">99.95%</td>"));
    assertTrue(html.contains("flags 0.30% of the corpus"));
  }

  @Test
  void render_tokens_intensityProportionalToLargestAbsoluteContribution() {
    // contributions 0.25, -0.5, ..., alternating signs: max |c| = 9 * 0.25
    String html = ReportWriter.render(SampleReports.hostile("t"));
    String tokens = html.substring(html.indexOf("<div class=\"tokens\">"));
    Matcher m = Pattern.compile("<span(?: class=\"a([pn])(\\d+)\")?(?: title=\"a ([^\"]*)\")?>")
        .matcher(tokens.substring(0, tokens.indexOf("</div>")));
    int seen = 0;
    while (m.find() && seen < 18) {
      int i = seen / 2;
      if (seen % 2 == 1) {
        assertEquals(null, m.group(1), "a zero contribution has no shade");
        assertEquals(null, m.group(2));
        assertEquals(null, m.group(3), "a zero contribution has no tooltip");
      } else {
        double c = (i % 2 == 0 ? 1 : -1) * 0.25 * (2 * i + 1);
        assertEquals(c > 0 ? "p" : "n", m.group(1));
        // shade level: |c| / max |c| in tenths, rounded up (the style sheet's ten shades per colour)
        int level = (int) Math.ceil(10 * Math.abs(c) / (0.25 * 17) - 1e-9);
        assertEquals(Integer.toString(level), m.group(2));
        assertEquals(Fmt.signed(c), m.group(3));
      }
      seen++;
    }
    assertEquals(18, seen);
  }

  @Test
  void render_tokenShades_styleSheetHoldsTenLevelsPerColourWithWhiteTextFromSix() {
    String html = ReportWriter.render(SampleReports.realistic());
    assertTrue(html.contains(".ka:checked~.seqs .ap1{background:rgba(33,102,172,0.1)}"
        + ".ka:checked~.seqs .an1{background:rgba(178,24,43,0.1)}\n"));
    assertTrue(html.contains(".ka:checked~.seqs .ap10{background:rgba(33,102,172,1.0)}"));
    assertTrue(html.contains(".ka:checked~.seqs .ap6,.ka:checked~.seqs .an6{color:#fff}"));
    assertFalse(html.contains(".ka:checked~.seqs .ap5,.ka:checked~.seqs .an5{color:#fff}"));
  }

  /**
   * Three methods keeping overlapping sequences: each query's token part writes every kept sequence once (spans =
   * distinct kept ids × their tokens, not once per method), and each token carries, per method that keeps the
   * sequence, the shade recomputed from that method's own contributions and its value in the tooltip.
   */
  @Test
  void render_threeMethods_eachKeptSequenceWrittenOnceWithEveryMethodsShade() {
    Report report = SampleReports.sideBySide();
    String html = ReportWriter.render(report);
    List<String> queryIds = report.queries().stream().map(QueryResult::queryId).distinct().toList();
    int expectedSpans = 0;
    int perMethodSpans = 0;
    for (int q = 0; q < queryIds.size(); q++) {
      Map<String, Map<Integer, double[]>> expected = new java.util.LinkedHashMap<>();
      int key = 0;
      for (QueryResult r : report.queries()) {
        if (!r.queryId().equals(queryIds.get(q))) {
          continue;
        }
        for (RankedSequence s : concat(r.top(), r.bottom())) {
          expected.computeIfAbsent(s.trainId(), k -> new java.util.TreeMap<>())
              .put(key, s.tokens().stream().mapToDouble(t -> t.contribution()).toArray());
          perMethodSpans += s.tokens().size();
        }
        key++;
      }
      assertEquals(3, key, "three methods answer " + queryIds.get(q));
      assertEquals(6, expected.size(), "train-0 .. train-5, each kept by at least one method");
      expectedSpans += TokenShades.assertQuery(html, q + 1, expected);
    }
    assertEquals(expectedSpans, tokenSpans(html));
    assertTrue(expectedSpans < perMethodSpans * 0.6, expectedSpans + " spans vs " + perMethodSpans + " once per method");
    // the picker: one radio per method, the first checked, labelled by key and method
    assertTrue(html.contains("<input type=\"radio\" name=\"q1-shade\" id=\"q1-ka\" class=\"ka\" checked>"
        + "<label for=\"q1-ka\"><b>a</b> tracin</label>"));
    assertTrue(html.contains("<input type=\"radio\" name=\"q1-shade\" id=\"q1-kc\" class=\"kc\">"
        + "<label for=\"q1-kc\"><b>c</b> representer</label>"));
    // train-4 is kept in a top-k (method c) and a bottom-k (method a): written once, among the top ones
    String top = html.substring(html.indexOf("id=\"q1-tokens-top\""), html.indexOf("id=\"q1-tokens-bottom\""));
    assertTrue(top.contains("<code class=\"train-id\">train-4</code>"));
    assertTrue(TokenShades.articles(html, 1).get("train-4").contains("<b>a</b> <span class=\"rank\">bottom #2</span>"));
    // the style sheet draws a method's classes only when its radio is checked; white text from shade 6
    assertTrue(html.contains(".ka:checked~.seqs .ap3,.kb:checked~.seqs .bp3,.kc:checked~.seqs .cp3"
        + "{background:rgba(33,102,172,0.3)}"));
    assertTrue(html.contains(".ka:checked~.seqs .an6,.kb:checked~.seqs .bn6,.kc:checked~.seqs .cn6"
        + "{background:rgba(178,24,43,0.6)}"));
    assertTrue(html.contains(".kc:checked~.seqs .cp6,"));
  }

  private static <T> List<T> concat(List<T> a, List<T> b) {
    List<T> all = new java.util.ArrayList<>(a);
    all.addAll(b);
    return all;
  }

  @Test
  void render_noSelfInfluence_sectionAbsent() {
    Report r = SampleReports.realistic();
    String html = ReportWriter.render(new Report(r.title(), r.provenance(), r.queries(), null));
    assertFalse(html.contains("id=\"self-influence\""));
    assertTrue(html.contains("id=\"q2\""));
  }

  @Test
  void constructor_nanScore_namesSequenceWithHint() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new RankedSequence(1, "train-42", Double.NaN, List.of(), Map.of(), Map.of()));
    assertTrue(e.getMessage().contains("train-42") && e.getMessage().contains("HINT"), e.getMessage());
    IllegalArgumentException e2 = assertThrows(IllegalArgumentException.class,
        () -> new QueryResult("q7", "p", "c", "m", List.of(), List.of(), new double[] {1, Double.POSITIVE_INFINITY},
            Map.of()));
    assertTrue(e2.getMessage().contains("q7") && e2.getMessage().contains("[1]"), e2.getMessage());
  }
}
