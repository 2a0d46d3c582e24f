package io.influence.core.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Paths and loaders of the committed tokenizer fixtures (src/test/resources/tokenizer). */
final class TokenizerFixtures {
  static final ObjectMapper JSON = new ObjectMapper();

  private TokenizerFixtures() {}

  record GoldenCase(String text, int[] ids) {}

  static Path resource(String name) {
    try {
      return Path.of(TokenizerFixtures.class.getResource("/tokenizer/" + name).toURI());
    } catch (URISyntaxException | NullPointerException e) {
      throw new IllegalStateException("missing test resource tokenizer/" + name, e);
    }
  }

  static Path gpt2Vocab() {
    return resource("gpt2/encoder.json");
  }

  static Path gpt2Merges() {
    return resource("gpt2/vocab.bpe");
  }

  private static Tokenizer gpt2;

  /** GPT-2 loaded once per test JVM from encoder.json + vocab.bpe (tokenizers are immutable). */
  static synchronized Tokenizer gpt2() {
    if (gpt2 == null) {
      try {
        gpt2 = Tokenizer.fromVocabAndMerges(gpt2Vocab(), gpt2Merges());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return gpt2;
  }

  /** Strings and the ids npm gpt-3-encoder gave them (see gpt2/README.md). */
  static List<GoldenCase> goldenCases() {
    try {
      JsonNode root = JSON.readTree(resource("gpt2/expected_ids.json").toFile());
      List<GoldenCase> cases = new ArrayList<>();
      for (JsonNode c : root) {
        int[] ids = new int[c.get("ids").size()];
        for (int i = 0; i < ids.length; i++) ids[i] = c.get("ids").get(i).asInt();
        cases.add(new GoldenCase(c.get("text").asText(), ids));
      }
      return cases;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** What decode(encode(text)) gives: the text with each unpaired surrogate replaced by U+FFFD. */
  static String wellFormed(String text) {
    StringBuilder b = new StringBuilder();
    text.codePoints().forEach(cp -> b.appendCodePoint(Character.getType(cp) == Character.SURROGATE ? 0xFFFD : cp));
    return b.toString();
  }

  /** Non-empty lines of the committed English corpus (Apache-2.0 and GPL-3.0 licence texts). */
  static List<String> corpusLines() {
    List<String> lines = new ArrayList<>();
    for (String f : List.of("corpus/apache-2.0.txt", "corpus/gpl-3.0.txt")) {
      try {
        for (String line : Files.readAllLines(resource(f), StandardCharsets.UTF_8)) {
          if (!line.isBlank()) lines.add(line);
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return lines;
  }

  /** Whole corpus files as documents (paragraph structure kept). */
  static List<String> corpusDocuments() {
    List<String> docs = new ArrayList<>();
    for (String f : List.of("corpus/apache-2.0.txt", "corpus/gpl-3.0.txt")) {
      try {
        docs.add(Files.readString(resource(f), StandardCharsets.UTF_8));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return docs;
  }
}
