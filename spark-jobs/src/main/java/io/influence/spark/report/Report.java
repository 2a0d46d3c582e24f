package io.influence.spark.report;

import java.util.List;

/**
 * Everything the HTML report shows. {@code selfInfluence} may be null (no self-influence run).
 * Render with {@link ReportWriter}.
 */
public record Report(
    String title, Provenance provenance, List<QueryResult> queries, SelfInfluenceSection selfInfluence) {
  public Report {
    Checks.notNull(title, "report title");
    Checks.notNull(provenance, "report provenance");
    queries = Checks.list(queries, "report queries");
  }
}
