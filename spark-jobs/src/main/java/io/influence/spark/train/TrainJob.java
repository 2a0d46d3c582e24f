package io.influence.spark.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.checkpoints.TrainingExamples;
import io.influence.checkpoints.TrainingRun;
import io.influence.core.model.CausalLm;
import io.influence.core.tokenizer.BpeTrainer;
import io.influence.core.tokenizer.Tokenizer;
import io.influence.core.train.Initialization;
import io.influence.core.train.Trainer;
import io.influence.spark.config.LongText;
import io.influence.spark.config.TrainSettings;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The {@code train} subcommand: a byte-level BPE trained on the corpus text, then a small GPT-2 or Llama
 * trained from scratch by {@link Trainer} on the tokenised corpus. A text longer than the context is cut by the
 * {@link LongText} policy the corpus stages use ({@code influence.input.long-text}): windows, its first context
 * tokens, or refused; texts or windows shorter than 2 tokens are dropped (nothing to predict).
 * Writes {@code runDir/tokenizer.json}, {@code runDir/checkpoint-N/} (config, weights, tokenizer)
 * and the manifest {@code runDir/influence-run.json}, which the pipeline reads as {@code --run}; beside the trainer's
 * {@code training-log.jsonl}, {@link TrainingExamples#FILE} names each logged sequence by its corpus id (when every
 * row has a unique {@code id}), so {@code score.method = sgd-influence} can map the corpus onto the log.
 *
 * <p>Corpus: JSON Lines with a {@code text} field per line (the pipeline's corpus format), or any
 * other file read as one UTF-8 text.
 */
public final class TrainJob {

  /** What a training run produced. */
  public record Result(TrainingRun run, Path tokenizerJson, int sequences, double firstLoss, double lastLoss) {}

  private static final ObjectMapper JSON = new ObjectMapper();

  private TrainJob() {}

  /**
   * Trains on {@code corpus} into {@code runDir}; {@code longText} is what a text longer than
   * {@code s.context()} tokens becomes (as in the corpus stages, so the run can score this corpus).
   */
  public static Result run(Path corpus, Path runDir, TrainSettings s, LongText longText, Consumer<String> log) {
    List<String> texts = readTexts(corpus);
    try {
      Files.createDirectories(runDir);
      Path tokenizerJson = runDir.resolve("tokenizer.json");
      Tokenizer tokenizer = BpeTrainer.train(texts, s.vocabSize(), tokenizerJson);
      List<int[]> sequences = new ArrayList<>();
      List<String> rowIds = readIds(corpus, texts.size());
      List<String> rows = new ArrayList<>();
      List<String> sequenceIds = new ArrayList<>();
      for (int i = 0; i < texts.size(); i++) {
        int[] ids = tokenizer.encodeDocument(texts.get(i));
        if (ids.length > s.context() && longText == LongText.ERROR) {
          throw new IllegalArgumentException("corpus " + corpus + ": text " + (i + 1) + " has " + ids.length
              + " tokens, over the context of " + s.context() + " (influence.train.context) with influence."
              + LongText.KEY + " = error. HINT: set influence." + LongText.KEY + " = windows or truncate, or "
              + "raise influence.train.context");
        }
        List<int[]> pieces = longText.pieces(ids, s.context());
        for (int k = 0; k < pieces.size(); k++) {
          if (pieces.get(k).length >= 2) {
            sequences.add(pieces.get(k));
            if (rowIds != null) {   // the id the corpus stages give this sequence (TokenizedCorpus)
              rows.add(rowIds.get(i));
              sequenceIds.add(longText.pieceId(rowIds.get(i), k, ids.length, s.context()));
            }
          }
        }
      }
      if (sequences.isEmpty()) {
        throw new IllegalArgumentException("corpus " + corpus + " gives no sequence of 2 or more tokens. HINT: "
            + "give it some text");
      }
      log.accept("train: " + texts.size() + " texts -> " + sequences.size() + " sequences of <= " + s.context()
          + " tokens, vocabulary " + tokenizer.vocabSize());
      CausalLm model = Initialization.of(s.modelConfig(tokenizer.vocabSize()), s.seed(), DataType.FLOAT);
      double[] losses = {Double.NaN, Double.NaN};
      int every = Math.max(1, s.steps() / 10);
      TrainingRun run = Trainer.train(model, sequences, s.trainer(), runDir, Optional.of(tokenizerJson), step -> {
        if (step.step() == 1) {
          losses[0] = step.meanTokenLoss();
        }
        losses[1] = step.meanTokenLoss();
        if (step.step() % every == 0 || step.step() == 1) {
          log.accept(String.format("  step %5d  lr %.2e  loss %.4f", step.step(), step.learningRate(),
              step.meanTokenLoss()));
        }
      });
      if (rowIds != null) {
        TrainingExamples.write(runDir, rows, sequenceIds, sequences);
      } else {
        log.accept("train: the corpus rows have no unique string or integer `id`, so " + TrainingExamples.FILE
            + " (the corpus ids of the training log's sequences, which score.method = sgd-influence needs) is not"
            + " written");
      }
      return new Result(run, tokenizerJson, sequences.size(), losses[0], losses[1]);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the training run " + runDir + ": " + e.getMessage(), e);
    }
  }

  /**
   * The {@code id} of every non-blank line of a JSON Lines corpus (a string, or an integer written as the corpus
   * stages read it), in the order of {@link #readTexts}; null when the corpus is not JSON Lines or some row has no
   * such id or ids repeat (its sequences then cannot be named).
   */
  static List<String> readIds(Path corpus, int texts) throws IOException {
    String name = corpus.getFileName().toString();
    if (!(name.endsWith(".jsonl") || name.endsWith(".json"))) {
      return null;
    }
    List<String> ids = new ArrayList<>();
    for (String line : Files.readAllLines(corpus, StandardCharsets.UTF_8)) {
      if (line.isBlank()) {
        continue;
      }
      JsonNode id = JSON.readTree(line).get("id");
      if (id == null || !(id.isTextual() || id.isIntegralNumber())) {
        return null;
      }
      ids.add(id.asText());
    }
    return ids.size() == texts && new java.util.HashSet<>(ids).size() == ids.size() ? ids : null;
  }

  /** The texts of a JSON Lines corpus (field {@code text}), or the whole file as one text. */
  public static List<String> readTexts(Path corpus) {
    if (!Files.isRegularFile(corpus)) {
      throw new IllegalArgumentException("corpus " + corpus + " is not a file. HINT: pass --corpus FILE (JSON Lines "
          + "with a text field, or plain text)");
    }
    try {
      List<String> lines = Files.readAllLines(corpus, StandardCharsets.UTF_8);
      boolean jsonLines = corpus.getFileName().toString().endsWith(".jsonl")
          || corpus.getFileName().toString().endsWith(".json");
      if (!jsonLines) {
        return List.of(String.join("\n", lines));
      }
      List<String> texts = new ArrayList<>();
      for (int i = 0; i < lines.size(); i++) {
        if (lines.get(i).isBlank()) {
          continue;
        }
        JsonNode row;
        try {
          row = JSON.readTree(lines.get(i));
        } catch (IOException e) {
          throw new IllegalArgumentException(corpus + " line " + (i + 1) + " is not JSON: " + e.getMessage()
              + ". HINT: one JSON object per line", e);
        }
        JsonNode text = row.get("text");
        if (text == null || !text.isTextual()) {
          throw new IllegalArgumentException(corpus + " line " + (i + 1) + " has no string field \"text\". HINT: "
              + "train needs text (rows with only input_ids cannot train a tokenizer)");
        }
        texts.add(text.asText());
      }
      return texts;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read corpus " + corpus + ": " + e.getMessage(), e);
    }
  }
}
