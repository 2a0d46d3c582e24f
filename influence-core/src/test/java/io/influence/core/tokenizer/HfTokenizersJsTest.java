package io.influence.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * A tokenizer.json written by BpeTrainer, loaded both by us and by Hugging Face's JavaScript
 * tokenizers (see src/test/resources/tokenizer/trained/README.md): the ids must be identical, which
 * checks the file format as Hugging Face reads it and our encoder on a non-GPT-2 vocabulary.
 */
class HfTokenizersJsTest {

  @Test
  void encode_trainedTokenizerJson_matchesHuggingFaceTokenizersJs() throws IOException {
    Tokenizer t = Tokenizer.fromTokenizerJson(TokenizerFixtures.resource("trained/tokenizer-512.json"));
    assertEquals(512, t.vocabSize());
    JsonNode cases = TokenizerFixtures.JSON.readTree(TokenizerFixtures.resource("trained/hf_js_ids.json").toFile());
    assertTrue(cases.size() >= 1000, "expected the full golden file, got " + cases.size());
    int mismatches = 0;
    String first = null;
    for (JsonNode c : cases) {
      String text = c.get("text").asText();
      int[] expected = new int[c.get("ids").size()];
      for (int i = 0; i < expected.length; i++) expected[i] = c.get("ids").get(i).asInt();
      int[] got = t.encode(text, true);
      if (!Arrays.equals(expected, got)) {
        if (mismatches++ == 0) {
          first = "text " + text.codePoints().mapToObj(cp -> String.format("U+%04X", cp)).toList() + "\n expected "
              + Arrays.toString(expected) + "\n got      " + Arrays.toString(got);
        }
      }
      assertEquals(TokenizerFixtures.wellFormed(text), t.decode(got));
    }
    System.out.println("[HfTokenizersJsTest] " + cases.size() + " strings, " + mismatches + " mismatches vs tokenizers.js");
    assertEquals(0, mismatches, mismatches + " of " + cases.size() + " strings differ; first: " + first);
  }
}
