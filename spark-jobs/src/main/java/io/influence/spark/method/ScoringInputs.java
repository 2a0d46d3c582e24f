package io.influence.spark.method;

import io.influence.spark.config.BadRows;
import io.influence.spark.config.LongText;
import io.influence.spark.io.Queries;
import java.util.List;
import org.apache.hadoop.fs.Path;

/**
 * What a method may read while it preconditions: the gradient store, the EK-FAC factors, the corpus (curvature
 * products) and the queries.
 *
 * @param store   the gradient store folder
 * @param factors the EK-FAC factor folder
 * @param corpus  the corpus (read again only by methods that need corpus-wide products), or null
 * @param badRows what to do with corpus rows that cannot be used (as extract did)
 * @param longText what corpus rows longer than the model's context become (as extract did)
 * @param queries the queries (empty for self-influence)
 */
public record ScoringInputs(Path store, Path factors, Path corpus, BadRows badRows, LongText longText,
                            List<Queries.Query> queries) {

  public ScoringInputs {
    queries = List.copyOf(queries);
  }
}
