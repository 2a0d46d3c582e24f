package io.influence.core.quality;

import io.influence.core.tokenizer.BpeTrainer;
import io.influence.core.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Real English text for quality tests: the GPL-3 licence text shipped in test resources (written
 * by people, not by us), tokenised with a small byte-level BPE trained on it, cut into
 * fixed-length token windows.
 */
public final class TextCorpus {

  private TextCorpus() {}

  public static String gplText() throws IOException {
    try (InputStream in = TextCorpus.class.getResourceAsStream("/tokenizer/corpus/gpl-3.0.txt")) {
      if (in == null) {
        throw new IllegalStateException("test resource tokenizer/corpus/gpl-3.0.txt is missing");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  /** A BPE of {@code vocab} tokens trained on the text, saved under {@code dir}. */
  public static Tokenizer tokenizer(String text, int vocab, Path dir) throws IOException {
    List<String> paragraphs = List.of(text.split("\n\\s*\n"));
    return BpeTrainer.train(paragraphs, vocab, dir.resolve("tokenizer.json"));
  }

  /** Consecutive windows of {@code length} tokens (the tail that does not fill a window is dropped). */
  public static List<int[]> windows(int[] tokens, int length, int max) {
    List<int[]> out = new ArrayList<>();
    for (int start = 0; start + length <= tokens.length && out.size() < max; start += length) {
      out.add(java.util.Arrays.copyOfRange(tokens, start, start + length));
    }
    return out;
  }
}
