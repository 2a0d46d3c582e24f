package io.influence.core.quality;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.Gpt2Config;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.checkpoints.TrainingRun;
import io.influence.core.grad.GradientExtractor;
import io.influence.core.model.Gpt2Model;
import io.influence.core.score.LayerLayout;
import io.influence.core.tracin.CheckpointGradients;
import io.influence.core.tracin.CheckpointSource;
import io.influence.core.tracin.ExampleGradient;
import io.influence.core.tracin.SelfInfluence;
import io.influence.core.tracin.TracInCp;
import io.influence.core.train.Initialization;
import io.influence.core.train.LearningRateSchedule;
import io.influence.core.train.Optimizer;
import io.influence.core.train.Trainer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Data cleaning on a real training run: a tiny GPT-2 is trained by our trainer on sentences of a
 * small generated language ({@link GrammarCorpus}) in which 5% of the sequences have their tokens
 * shuffled; TracIn self-influence over the saved
 * checkpoints must rank the shuffled sequences near the top (issue bar: the top 10% holds at
 * least 80% of them).
 */
class SelfInfluenceGpt2Test {

  private static final int SEQUENCES = 400;
  private static final int LENGTH = 18;
  private static final int STEPS = 150;
  private static final double CORRUPTED_FRACTION = 0.05;
  private static final double BAR = 0.80;

  @TempDir Path dir;

  @Test
  void tracInSelfInfluence_shuffledSequences_rankInTopTenPercent() throws Exception {
    Random random = new Random(42);
    List<int[]> corpus = GrammarCorpus.sequences(random, SEQUENCES, LENGTH);
    int corruptCount = (int) Math.round(CORRUPTED_FRACTION * corpus.size());
    Set<Integer> corrupted = new HashSet<>();
    while (corrupted.size() < corruptCount) {
      corrupted.add(random.nextInt(corpus.size()));
    }
    for (int i : corrupted) {
      int[] s = corpus.get(i);
      for (int k = s.length - 1; k > 0; k--) {
        int j = random.nextInt(k + 1);
        int t = s[k];
        s[k] = s[j];
        s[j] = t;
      }
    }

    Gpt2Config config = new Gpt2Config(GrammarCorpus.VOCAB, LENGTH, 32, 2, 2, 1e-5, "gelu_new");
    Gpt2Model model = Initialization.gpt2(config, 1, DataType.FLOAT);
    var settings = new Trainer.Settings(Optimizer.adamW(0.9, 0.95, 1e-8, 0.01),
        LearningRateSchedule.cosine(3e-3, 3e-4, 10, STEPS), STEPS, 16, STEPS / 3, 1.0, 7);
    TrainingRun run = Trainer.train(model, corpus, settings, dir.resolve("run"), Optional.empty(), s -> { });

    List<String> ids = IntStream.range(0, corpus.size()).mapToObj(i -> "seq-" + i).toList();
    List<CheckpointGradients> perCheckpoint = new ArrayList<>();
    LayerLayout layout = null;
    for (RunCheckpoint c : run.checkpoints()) {
      Gpt2Model m = Gpt2Model.load(c.dir(), DataType.FLOAT);
      List<ExampleGradient> grads = new GradientExtractor(m, Map.of(), 32).extract(ids, corpus, null);
      if (layout == null) {
        layout = LayerLayout.ofExample(m.linearLayers(), grads.get(0).layers());
      }
      perCheckpoint.add(new CheckpointGradients("step-" + c.step(), c.learningRate(), List.of(), grads));
    }
    SelfInfluence self = TracInCp.selfInfluence(layout, CheckpointSource.of(perCheckpoint));

    List<Integer> ranked = IntStream.range(0, corpus.size()).boxed()
        .sorted(Comparator.comparingDouble((Integer i) -> -self.total()[i])).toList();
    int top = (int) Math.ceil(0.10 * corpus.size());
    long found = ranked.subList(0, top).stream().filter(corrupted::contains).count();
    double recall = (double) found / corrupted.size();
    System.out.printf("self-influence: %d of %d shuffled sequences in the top 10%% (recall %.3f)%n", found,
        corrupted.size(), recall);
    assertTrue(recall >= BAR, "top 10% by self-influence holds " + found + " of " + corrupted.size()
        + " shuffled sequences; the bar is " + BAR);
  }
}
