package io.influence.spark.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.Gpt2Config;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.checkpoints.TrainingRun;
import io.influence.checkpoints.TrainingRuns;
import io.influence.core.model.Gpt2Model;
import io.influence.core.model.TokenBatch;
import io.influence.core.tokenizer.Tokenizer;
import io.influence.core.train.Initialization;
import io.influence.spark.cli.InfluenceCommand;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalDouble;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import picocli.CommandLine;

/**
 * {@code influence train} end to end: the run it writes loads as a training run, its checkpoints
 * load as models with the tokenizer beside them, the recorded learning rates follow the cosine
 * schedule computed here by hand, a text longer than the context was cut rather than refused,
 * and the trained model's loss on the corpus is below that of its own initialisation.
 */
class TrainCommandTest {

  private static final double RATE_TOLERANCE = 1e-12;

  @TempDir
  Path dir;

  @Test
  void train_smallCorpus_writesLoadableRunWithScheduledRatesAndLowerLoss() throws Exception {
    String[] words = {"sun", "moon", "rises", "sets", "over", "the", "hills", "sea", "slowly", "again"};
    java.util.Random random = new java.util.Random(11);
    StringBuilder jsonl = new StringBuilder();
    List<String> texts = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      StringBuilder s = new StringBuilder();
      int n = i == 0 ? 40 : 3 + random.nextInt(4);  // row 0 is longer than the context: it must be cut
      for (int w = 0; w < n; w++) {
        s.append(w == 0 ? "" : " ").append(words[random.nextInt(words.length)]);
      }
      texts.add(s + ".");
      jsonl.append("{\"id\": ").append(i).append(", \"text\": \"").append(s).append(".\"}\n");
    }
    Path corpus = dir.resolve("corpus.jsonl");
    Files.writeString(corpus, jsonl);
    Path run = dir.resolve("run");
    int code = new CommandLine(new InfluenceCommand()).execute("train", "--corpus", corpus.toString(), "--out",
        run.toString(), "-D", "train.vocab-size=280", "-D", "train.context=16", "-D", "train.width=16",
        "-D", "train.layers=1", "-D", "train.heads=2", "-D", "train.steps=6", "-D", "train.batch-size=8",
        "-D", "train.checkpoints=2", "-D", "train.schedule=cosine", "-D", "train.warmup-steps=2",
        "-D", "train.learning-rate=1e-2", "-D", "train.min-learning-rate=1e-3", "-D", "train.seed=3");
    assertEquals(0, code);

    TrainingRun loaded = TrainingRuns.read(run, OptionalDouble.empty());
    assertEquals(List.of(3L, 6L), loaded.checkpoints().stream().map(RunCheckpoint::step).toList());
    double atStep3 = 1e-3 + 0.5 * (1e-2 - 1e-3) * (1 + Math.cos(Math.PI * (3 - 2) / 4.0));
    assertEquals(atStep3, loaded.checkpoints().get(0).learningRate(), RATE_TOLERANCE);
    assertEquals(1e-3, loaded.checkpoints().get(1).learningRate(), RATE_TOLERANCE);

    Tokenizer tokenizer = Tokenizer.fromTokenizerJson(run.resolve("tokenizer.json"));
    byte[] tokenizerBytes = Files.readAllBytes(run.resolve("tokenizer.json"));
    List<int[]> pieces = new ArrayList<>();
    for (String t : texts) {
      int[] ids = tokenizer.encode(t);
      assertEquals(t, tokenizer.decode(ids));
      for (int s = 0; s < ids.length; s += 16) {
        int[] p = Arrays.copyOfRange(ids, s, Math.min(ids.length, s + 16));
        if (p.length >= 2) {
          pieces.add(p);
        }
      }
    }
    assertTrue(tokenizer.encode(texts.get(0)).length > 16, "row 0 should exceed the context");
    Gpt2Model last = null;
    for (RunCheckpoint c : loaded.checkpoints()) {
      assertArrayEquals(tokenizerBytes, Files.readAllBytes(c.dir().resolve("tokenizer.json")), c.dir().toString());
      last = Gpt2Model.load(c.dir(), DataType.FLOAT);
      Gpt2Config cfg = (Gpt2Config) last.config();
      assertEquals(tokenizer.vocabSize(), cfg.vocabSize());
      assertEquals(16, cfg.nPositions());
    }
    Gpt2Model initial = Initialization.gpt2((Gpt2Config) last.config(), 3, DataType.FLOAT);
    TokenBatch batch = TokenBatch.of(pieces.toArray(new int[0][]));
    double before = Arrays.stream(initial.losses(batch)).sum();
    double after = Arrays.stream(last.losses(batch)).sum();
    assertTrue(after < 0.9 * before, "training should lower the corpus loss: " + before + " -> " + after);
  }

  @Test
  void train_rowWithoutText_failsNamingTheLine() throws Exception {
    Path corpus = dir.resolve("bad.jsonl");
    Files.writeString(corpus, "{\"id\": 1, \"text\": \"fine\"}\n{\"id\": 2, \"input_ids\": [1, 2]}\n");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TrainJob.readTexts(corpus));
    assertTrue(e.getMessage().contains("line 2") && e.getMessage().contains("HINT"), e.getMessage());
  }
}
