package io.influence.spark.score;

import io.influence.core.score.TopK;
import java.util.List;
import java.util.Map;

/**
 * The ranking {@link ScoreJob#rank} returns.
 *
 * @deprecated use {@link io.influence.core.score.Ranking} (from {@link io.influence.core.score.BlockScorer#rank});
 *     this copy only keeps ScoreBench compiling until the bench suite moves to its own module.
 */
@Deprecated
public record Ranking(Map<String, List<TopK.Scored>> top, Map<String, List<TopK.Scored>> bottom, long rowsScored) {

  static Ranking of(io.influence.core.score.Ranking r) {
    return new Ranking(r.top(), r.bottom(), r.rowsScored());
  }
}
