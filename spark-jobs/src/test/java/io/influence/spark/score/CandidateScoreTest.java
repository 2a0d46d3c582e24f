package io.influence.spark.score;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.influence.spark.store.SyntheticGradients;
import io.influence.spark.testing.LocalSpark;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.SplittableRandom;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Scoring on candidates is exhaustive scoring restricted to them: each query's top-k and bottom-k among its own
 * candidate rows are those of the exhaustive ranking (every row, k = all) filtered to the candidates, same scores.
 */
class CandidateScoreTest {

  /** Float32 GEMM over blocks of another composition: scores equal up to float32 rounding. */
  private static final double SCORE_TOL = 1e-5;
  private static final int N_TRAIN = 50;

  @TempDir Path dir;

  @Test
  void scoreOnCandidates_equalsExhaustiveScoresFilteredToTheCandidates() {
    SparkSession spark = LocalSpark.get();
    SyntheticGradients grads = new SyntheticGradients(31, 2, N_TRAIN, false);
    Path store = dir.resolve("store");
    grads.writeAll(spark, store, 3);
    SplittableRandom r = new SplittableRandom(32);
    List<QueryGradient> queries = new ArrayList<>();
    for (int q = 0; q < 3; q++) {
      queries.add(new QueryGradient("query-" + q, List.of(SyntheticGradients.randomExample(r, false),
          SyntheticGradients.randomExample(r, false))));
    }
    List<Double> weights = List.of(0.5, 1.5);
    Map<String, Set<String>> candidates = new HashMap<>();
    Random pick = new Random(33);
    for (QueryGradient q : queries) {   // a different random third of the rows per query (ids absent from the store too)
      Set<String> c = new HashSet<>(Set.of("not-in-the-store"));
      for (String id : grads.ids) {
        if (pick.nextInt(3) == 0) {
          c.add(id);
        }
      }
      candidates.put(q.id(), c);
    }
    ScoreSpec exhaustive = new ScoreSpec(store, grads.checkpoints, weights, queries, N_TRAIN, 1024, "tracin", null,
        null, null);
    List<Row> all = ScoreJob.run(spark, exhaustive).collectAsList();
    int k = 6;
    ScoreSpec onCandidates = new ScoreSpec(store, grads.checkpoints, weights, queries, k, 7, "tracin", null, null,
        null).withCandidates(candidates);
    List<Row> got = ScoreJob.run(spark, onCandidates).collectAsList();

    for (QueryGradient q : queries) {
      List<Row> pool = new ArrayList<>();
      for (Row row : all) {
        if (row.getString(0).equals(q.id()) && row.getString(1).equals("top")
            && candidates.get(q.id()).contains(row.getString(3))) {
          pool.add(row);
        }
      }
      for (String direction : List.of("top", "bottom")) {
        Comparator<Row> byScore = Comparator.comparingDouble((Row x) -> x.getDouble(4));
        List<Row> expected = new ArrayList<>(pool);
        expected.sort((direction.equals("top") ? byScore.reversed() : byScore).thenComparing(x -> x.getString(3)));
        expected = expected.subList(0, k);
        List<Row> actual = got.stream().filter(x -> x.getString(0).equals(q.id()) && x.getString(1).equals(direction))
            .toList();
        assertEquals(k, actual.size(), q.id() + " " + direction);
        for (int i = 0; i < k; i++) {
          assertEquals(expected.get(i).getString(3), actual.get(i).getString(3), q.id() + " " + direction + " rank "
              + (i + 1));
          assertEquals(expected.get(i).getDouble(4), actual.get(i).getDouble(4), SCORE_TOL);
          assertEquals(i + 1, actual.get(i).getInt(2));
        }
      }
    }
  }
}
