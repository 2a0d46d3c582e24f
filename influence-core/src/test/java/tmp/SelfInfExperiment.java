package tmp;

import io.influence.checkpoints.*;
import io.influence.core.grad.GradientExtractor;
import io.influence.core.model.*;
import io.influence.core.quality.TextCorpus;
import io.influence.core.score.LayerLayout;
import io.influence.core.tokenizer.Tokenizer;
import io.influence.core.tracin.*;
import io.influence.core.train.*;
import java.nio.file.*;
import java.util.*;
import java.util.stream.IntStream;
import org.nd4j.linalg.api.buffer.DataType;

class SelfInfExperiment {
  @org.junit.jupiter.api.Test
  void run() throws Exception {
    Path dir = Files.createTempDirectory("exp");
    String text = TextCorpus.gplText();
    int vocab = Integer.getInteger("v", 256), len = Integer.getInteger("len", 16), n = Integer.getInteger("n", 200);
    int steps = Integer.getInteger("steps", 300), width = Integer.getInteger("w", 32);
    double lr = Double.parseDouble(System.getProperty("lr", "3e-3"));
    long t0 = System.nanoTime();
    Tokenizer tokenizer = TextCorpus.tokenizer(text, vocab, dir);
    List<int[]> corpus = TextCorpus.windows(tokenizer.encode(text), len, n);
    Random random = new Random(42);
    Set<Integer> corrupted = new HashSet<>();
    while (corrupted.size() < Math.round(0.05 * corpus.size())) corrupted.add(random.nextInt(corpus.size()));
    for (int i : corrupted) { int[] s = corpus.get(i); for (int k = s.length - 1; k > 0; k--) { int j = random.nextInt(k + 1); int t = s[k]; s[k] = s[j]; s[j] = t; } }
    Gpt2Config config = new Gpt2Config(tokenizer.vocabSize(), len, width, 2, 2, 1e-5, "gelu_new");
    Gpt2Model model = Initialization.gpt2(config, 1, DataType.FLOAT);
    var settings = new Trainer.Settings(Optimizer.adamW(0.9, 0.95, 1e-8, 0.01),
        LearningRateSchedule.cosine(lr, lr/10, 20, steps), steps, 16, steps / 4, 1.0, 7);
    long t1 = System.nanoTime();
    double[] last = new double[1];
    TrainingRun run = Trainer.train(model, corpus, settings, dir.resolve("run"), Optional.empty(), s -> last[0] = s.meanTokenLoss());
    long t2 = System.nanoTime();
    List<String> ids = IntStream.range(0, corpus.size()).mapToObj(i -> "seq-" + i).toList();
    for (int from = 0; from < run.checkpoints().size(); from++) {
      List<CheckpointGradients> per = new ArrayList<>();
      LayerLayout layout = null;
      for (RunCheckpoint c : run.checkpoints().subList(from, run.checkpoints().size())) {
        Gpt2Model m = Gpt2Model.load(c.dir(), DataType.FLOAT);
        List<ExampleGradient> g = new GradientExtractor(m, Map.of(), 32).extract(ids, corpus, null);
        if (layout == null) layout = LayerLayout.ofExample(m.linearLayers(), g.get(0).layers());
        per.add(new CheckpointGradients("c" + c.step(), c.learningRate(), List.of(), g));
      }
      SelfInfluence self = TracInCp.selfInfluence(layout, CheckpointSource.of(per));
      List<Integer> ranked = IntStream.range(0, corpus.size()).boxed().sorted(Comparator.comparingDouble((Integer i) -> -self.total()[i])).toList();
      long found = ranked.subList(0, (int) Math.ceil(0.1 * corpus.size())).stream().filter(corrupted::contains).count();
      System.out.printf("EXP v=%d len=%d n=%d steps=%d w=%d lr=%s from=%d: found %d/%d, final loss %.3f, tok %.1fs train %.1fs extract %.1fs%n",
        vocab, len, n, steps, width, lr, from, found, corrupted.size(), last[0], (t1-t0)/1e9, (t2-t1)/1e9, (System.nanoTime()-t2)/1e9);
    }
  }
}
