package io.influence.spark.shapley;

import io.influence.core.model.CausalLm;
import io.influence.core.model.TokenBatch;
import io.influence.core.shapley.FineTuneGame;
import io.influence.spark.extract.ExecutorModels;
import java.io.Serializable;
import java.util.List;

/**
 * What a task needs to play the fine-tuning game (broadcast once): where the checkpoint is, the players' ids and
 * token sequences (in player order), the queries' tokens and completion masks, and the fine-tuning settings.
 */
record ShapleyWork(String location, String sha256, List<String> playerIds, List<int[][]> players, int[][] queryTokens, int[][] queryMasks,
                   FineTuneGame.Settings fineTune) implements Serializable {

  /** A game on this JVM's copy of the checkpoint (one per task thread: the game is not thread-safe). */
  FineTuneGame game() {
    CausalLm base = ExecutorModels.model(location, sha256);
    return new FineTuneGame(base, players, new TokenBatch(queryTokens, queryMasks), fineTune);
  }
}
