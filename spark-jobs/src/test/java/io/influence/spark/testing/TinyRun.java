package io.influence.spark.testing;

import io.influence.checkpoints.Gpt2Config;
import io.influence.checkpoints.TrainingRun;
import io.influence.core.model.Gpt2Model;
import io.influence.core.tokenizer.BpeTrainer;
import io.influence.core.tokenizer.Tokenizer;
import io.influence.core.train.Initialization;
import io.influence.core.train.LearningRateSchedule;
import io.influence.core.train.Optimizer;
import io.influence.core.train.Trainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * A real (tiny) training run for pipeline tests: 40 short generated sentences, a byte-level BPE
 * trained on them, a GPT-2 trained by our trainer for 6 steps with checkpoints at steps 3 and 6
 * (tokenizer saved beside each), and the corpus as JSON Lines.
 */
public record TinyRun(TrainingRun run, Tokenizer tokenizer, List<String> ids, List<String> texts, Path corpus) {

  public static TinyRun create(Path dir) throws Exception {
    Random random = new Random(3);
    String[] words = {"red", "green", "blue", "cat", "dog", "bird", "runs", "sleeps", "sings", "the", "a", "quietly"};
    List<String> texts = new ArrayList<>();
    List<String> ids = new ArrayList<>();
    StringBuilder lines = new StringBuilder();
    for (int i = 0; i < 40; i++) {
      StringBuilder s = new StringBuilder();
      int n = 4 + random.nextInt(6);
      for (int w = 0; w < n; w++) {
        s.append(w == 0 ? "" : " ").append(words[random.nextInt(words.length)]);
      }
      texts.add(s.append('.').toString());
      ids.add("doc-" + i);
      lines.append("{\"id\": \"doc-").append(i).append("\", \"text\": \"").append(texts.get(i)).append("\"}\n");
    }
    Path corpus = dir.resolve("corpus.jsonl");
    Files.writeString(corpus, lines);
    Path tok = Files.createDirectories(dir.resolve("tok"));
    Tokenizer tokenizer = BpeTrainer.train(texts, 280, tok.resolve("tokenizer.json"));
    List<int[]> encoded = texts.stream().map(tokenizer::encode).toList();
    Gpt2Config config = new Gpt2Config(tokenizer.vocabSize(), 32, 16, 2, 2, 1e-5, "gelu_new");
    Gpt2Model model = Initialization.gpt2(config, 4, DataType.FLOAT);
    var settings = new Trainer.Settings(Optimizer.adamW(0.9, 0.95, 1e-8, 0.0), LearningRateSchedule.constant(3e-3),
        6, 8, 3, 0, 1);
    TrainingRun run = Trainer.train(model, encoded, settings, dir.resolve("run"),
        Optional.of(tok.resolve("tokenizer.json")), s -> { });
    return new TinyRun(run, tokenizer, ids, texts, corpus);
  }
}
