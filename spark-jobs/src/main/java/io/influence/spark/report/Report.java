package io.influence.spark.report;

import java.util.List;
import java.util.OptionalLong;

/**
 * Everything the HTML report shows. {@code selfInfluence} may be null (no self-influence run); {@code shapley} holds
 * the Data Shapley folders' per-query values (empty when none is shown), rendered beside the same query's other
 * methods. {@code trainingSequences} is the number of training sequences the queries were scored against (empty when
 * unknown). Render with {@link ReportWriter}.
 */
public record Report(
    String title, Provenance provenance, List<QueryResult> queries, SelfInfluenceSection selfInfluence,
    List<ShapleyResult> shapley, OptionalLong trainingSequences) {
  public Report {
    Checks.notNull(title, "report title");
    Checks.notNull(provenance, "report provenance");
    queries = Checks.list(queries, "report queries");
    shapley = Checks.list(shapley, "report Shapley values");
    Checks.notNull(trainingSequences, "report trainingSequences");
  }

  /** A report that does not say how many training sequences were scored. */
  public Report(String title, Provenance provenance, List<QueryResult> queries, SelfInfluenceSection selfInfluence,
                List<ShapleyResult> shapley) {
    this(title, provenance, queries, selfInfluence, shapley, OptionalLong.empty());
  }

  /** A report without Data Shapley values. */
  public Report(String title, Provenance provenance, List<QueryResult> queries, SelfInfluenceSection selfInfluence) {
    this(title, provenance, queries, selfInfluence, List.of(), OptionalLong.empty());
  }
}
