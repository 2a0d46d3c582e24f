package io.influence.spark.report.html;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Test side: reads a query's token part back from the HTML (independently of the renderer's classes) and checks it
 * against contributions the test supplies: each kept sequence written once, one span per token, and per method the
 * shade class recomputed from that method's contributions (tenths of the sequence's largest |contribution|, rounded
 * up; none for 0) and its value in the tooltip to 4 significant digits.
 */
public final class TokenShades {

  private static final Pattern ARTICLE_ID = Pattern.compile("<code class=\"train-id\">([^<]*)</code>");
  private static final Pattern TOKEN = Pattern.compile("<span(?: class=\"([a-z0-9 ]+)\")?(?: title=\"([^\"]*)\")?>");

  private TokenShades() {}

  /** The token spans of a document: the spans directly inside each {@code <div class="tokens">}. */
  public static int spans(String html) {
    int n = 0;
    String open = "<div class=\"tokens\">";
    for (int i = html.indexOf(open); i >= 0; i = html.indexOf(open, i + 1)) {
      Matcher m = TOKEN.matcher(html.substring(i, html.indexOf("</div>", i)));
      while (m.find()) {
        n++;
      }
    }
    return n;
  }

  /** The token part of query {@code q} (1-based) as {@code train id (as escaped in the HTML) → article HTML}. */
  public static Map<String, String> articles(String html, int q) {
    String start = "<details class=\"tokens-part\" id=\"q" + q + "-tokens\">";
    int from = html.indexOf(start);
    assertTrue(from >= 0, "no token part for query " + q);
    String part = html.substring(from, html.indexOf("</details>", from));
    Map<String, String> out = new LinkedHashMap<>();
    String[] pieces = part.split("<article class=\"seq\">");
    for (int i = 1; i < pieces.length; i++) {
      Matcher m = ARTICLE_ID.matcher(pieces[i]);
      assertTrue(m.find(), "article without a train id");
      assertEquals(null, out.put(m.group(1), pieces[i]), "sequence " + m.group(1) + " written twice for query " + q);
    }
    return out;
  }

  /**
   * Asserts query {@code q}'s token part holds exactly the sequences of {@code expected} (train id → method key index
   * → that method's contributions, for the methods that keep it), each once, with each method's shade and value.
   *
   * @return the number of token spans checked
   */
  public static int assertQuery(String html, int q, Map<String, Map<Integer, double[]>> expected) {
    Map<String, String> articles = articles(html, q);
    assertEquals(expected.keySet(), articles.keySet(), "kept sequences of query " + q);
    int spans = 0;
    for (Map.Entry<String, Map<Integer, double[]>> e : expected.entrySet()) {
      String article = articles.get(e.getKey());
      String tokens = article.substring(article.indexOf("<div class=\"tokens\">"));
      Matcher m = TOKEN.matcher(tokens);
      int t = 0;
      while (m.find()) {
        StringBuilder classes = new StringBuilder();
        List<String> values = new ArrayList<>();
        boolean nonZero = false;
        for (Map.Entry<Integer, double[]> method : new java.util.TreeMap<>(e.getValue()).entrySet()) {
          double[] c = method.getValue();
          assertTrue(t < c.length, e.getKey() + " has more spans than tokens");
          double max = 0;
          for (double x : c) {
            max = Math.max(max, Math.abs(x));
          }
          String key = String.valueOf((char) ('a' + method.getKey()));
          if (c[t] != 0) {
            int level = (int) Math.ceil(10 * Math.abs(c[t]) / max - 1e-9);
            classes.append(classes.length() == 0 ? "" : " ").append(key).append(c[t] > 0 ? 'p' : 'n').append(Math.max(1, Math.min(10, level)));
            nonZero = true;
          }
          values.add(key + " " + Fmt.signed(c[t]));
        }
        String where = "query " + q + ", " + e.getKey() + ", token " + t;
        assertEquals(nonZero ? classes.toString() : null, m.group(1), where + " classes");
        assertEquals(nonZero ? String.join("\n", values) : null, m.group(2), where + " tooltip");
        t++;
      }
      for (double[] c : e.getValue().values()) {
        assertEquals(c.length, t, e.getKey() + ": one span per token");
      }
      spans += t;
    }
    return spans;
  }
}
