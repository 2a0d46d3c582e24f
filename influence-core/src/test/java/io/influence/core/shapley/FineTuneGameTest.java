package io.influence.core.shapley;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.Gpt2Config;
import io.influence.core.model.CausalLm;
import io.influence.core.model.TokenBatch;
import io.influence.core.train.Initialization;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The language-model game is a set function (what exact and Monte Carlo Shapley assume): the same coalition in
 * another order, or asked again after other coalitions, gives the same utilities; the empty coalition is the
 * checkpoint; and fine-tuning on a query's own text lowers that query's loss (its player gets a positive value).
 */
class FineTuneGameTest {

  @Test
  void value_sameCoalitionAnyOrderOrTime_sameUtilitiesAndOwnTextHelps() {
    CausalLm base = Initialization.gpt2(new Gpt2Config(20, 12, 16, 1, 2, 1e-5, "gelu_new"), 3, DataType.FLOAT);
    Random random = new Random(4);
    List<int[][]> players = new ArrayList<>();
    for (int p = 0; p < 4; p++) {
      int[][] seqs = new int[2][10];
      for (int[] s : seqs) {
        for (int t = 0; t < s.length; t++) {
          s[t] = random.nextInt(20);
        }
      }
      players.add(seqs);
    }
    // query 0 is player 2's first sequence, scored on its second half
    int[] q = players.get(2)[0].clone();
    int[] mask = new int[q.length];
    java.util.Arrays.fill(mask, 5, q.length, 1);
    TokenBatch queries = new TokenBatch(new int[][] {q}, new int[][] {mask});
    FineTuneGame game = new FineTuneGame(base, players, queries,
        new FineTuneGame.Settings(FineTuneGame.OptimizerKind.ADAMW, 0.01, 4, 3, 9));

    double[] a = game.value(new int[] {0, 2, 3});
    double[] empty = game.value(new int[0]);
    double[] b = game.value(new int[] {3, 0, 2});
    game.value(new int[] {1});
    double[] c = game.value(new int[] {2, 3, 0});
    assertArrayEquals(a, b, 0.0);
    assertArrayEquals(a, c, 0.0);
    assertArrayEquals(new double[] {-base.losses(queries)[0]}, empty, 0.0);

    ShapleyValues exact = ExactShapley.of(game);
    double[] phi = exact.target(0);
    for (int p = 0; p < 4; p++) {
      assertTrue(p == 2 || phi[2] > phi[p], "the query's own text is worth most: " + java.util.Arrays.toString(phi));
    }
    assertTrue(phi[2] > 0);
  }
}
