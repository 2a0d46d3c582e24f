package io.influence.spark.report.html;

import io.influence.spark.report.Agreement;
import io.influence.spark.report.PlayerValue;
import io.influence.spark.report.QueryResult;
import io.influence.spark.report.RankedSequence;
import io.influence.spark.report.Report;
import io.influence.spark.report.ShapleyResult;
import io.influence.spark.report.TokenContribution;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One query as the report shows it: once, with one column per method (score folder or Data Shapley folder) that
 * answered it, in the report's folder order. A column is labelled by its method, or by method and folder when two
 * folders of the report share a method.
 */
record QuerySection(String queryId, String prompt, String completion, List<QuerySection.Column> columns) {

  /** Characters of a training sequence's text shown in a table cell. */
  static final int SNIPPET = 90;

  /** A kept row of a column: training id (or player), score (or value) and its standard error (Shapley only). */
  record Entry(String id, double value, Double stderr, String snippet) {}

  /** One method's answer for the query: exactly one of {@code result} and {@code shapley} is set. */
  record Column(String label, QueryResult result, ShapleyResult shapley) {

    List<Entry> entries(boolean top) {
      List<Entry> out = new ArrayList<>();
      if (result != null) {
        for (RankedSequence s : top ? result.top() : result.bottom()) {
          StringBuilder text = new StringBuilder();
          for (TokenContribution t : s.tokens()) {
            if (text.length() > SNIPPET) {
              break;
            }
            text.append(t.text());
          }
          out.add(new Entry(s.trainId(), s.score(), null, snippet(text.toString())));
        }
      } else {
        for (PlayerValue p : top ? shapley.top() : shapley.bottom()) {
          out.add(new Entry(p.playerId(), p.value(), p.stderr(), snippet(p.text())));
        }
      }
      return out;
    }

    /** The {@code r}-th (0-based) kept row, or null when the column keeps fewer. */
    Entry entry(boolean top, int r) {
      List<Entry> all = entries(top);
      return r < all.size() ? all.get(r) : null;
    }
  }

  /** The report's queries in order of first appearance, each with its columns. */
  static List<QuerySection> of(Report report) {
    Map<String, Set<String>> foldersByMethod = new HashMap<>();
    report.queries().forEach(q -> foldersByMethod.computeIfAbsent(q.method(), k -> new LinkedHashSet<>()).add(q.folder()));
    report.shapley().forEach(q -> foldersByMethod.computeIfAbsent(q.run().method(), k -> new LinkedHashSet<>())
        .add(q.run().folder()));
    Map<String, QuerySection> byId = new LinkedHashMap<>();
    for (QueryResult q : report.queries()) {
      String label = foldersByMethod.get(q.method()).size() > 1 ? q.method() + " · " + q.folder() : q.method();
      byId.computeIfAbsent(q.queryId(), k -> new QuerySection(k, q.prompt(), q.completion(), new ArrayList<>()))
          .columns().add(new Column(label, q, null));
    }
    for (ShapleyResult q : report.shapley()) {
      String method = q.run().method();
      String label = foldersByMethod.get(method).size() > 1 ? method + " · " + q.run().folder() : method;
      byId.computeIfAbsent(q.queryId(), k -> new QuerySection(k, q.prompt(), q.completion(), new ArrayList<>()))
          .columns().add(new Column(label, null, q));
    }
    return List.copyOf(byId.values());
  }

  /** The longest top-k (or bottom-k) list of the columns: the table's number of rows. */
  int depth(boolean top) {
    return columns.stream().mapToInt(c -> c.entries(top).size()).max().orElse(0);
  }

  /** How far the columns' top-k (or bottom-k) lists agree. */
  Agreement agreement(boolean top) {
    Map<String, List<String>> ids = new LinkedHashMap<>();
    for (Column c : columns) {
      ids.put(c.label(), c.entries(top).stream().map(Entry::id).toList());
    }
    return Agreement.of(ids);
  }

  private static String snippet(String text) {
    String flat = text.replaceAll("\\s+", " ").strip();
    return flat.length() <= SNIPPET ? flat : flat.substring(0, SNIPPET) + "…";
  }
}
