package io.influence.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Query encoding: prompt and completion tokenised apart, the mask over the predicted completion tokens only. */
class PromptCompletionTest {

  private static final Tokenizer BPE = TokenizerFixtures.gpt2();

  /** Llama 2's real tokenizer adds BOS: documents and queries start with it, and it is never a predicted position. */
  @Test
  void encode_llama2_bosBeforePromptAndDocument_completionMaskUnchanged() throws Exception {
    com.fasterxml.jackson.databind.JsonNode fixture = TokenizerFixtures.JSON.readTree(
        TokenizerFixtures.resource("llm/llama2_js.json").toFile());
    Tokenizer llama2 = Tokenizer.fromTokenizerJson(
        LlmTokenizersTest.tokenizerJson("llama2", fixture.get("tokenizerJsonSha256").asText()));
    int bos = llama2.bosTokenId().orElseThrow();
    assertEquals(1, bos, "Llama 2's <s>");
    int[] p = llama2.encode("The capital of France is");
    int[] c = llama2.encode(" Paris");
    PromptCompletion q = PromptCompletion.encode(llama2, "q", "The capital of France is", " Paris", 100);
    int[] want = new int[1 + p.length + c.length];
    want[0] = bos;
    System.arraycopy(p, 0, want, 1, p.length);
    System.arraycopy(c, 0, want, 1 + p.length, c.length);
    org.junit.jupiter.api.Assertions.assertArrayEquals(want, q.tokens());
    for (int t = 0; t < want.length; t++) {
      assertEquals(t >= 1 + p.length ? 1 : 0, q.lossMask()[t], "position " + t);
    }
    int[] doc = llama2.encodeDocument("hello world");
    assertEquals(bos, doc[0]);
    assertEquals(llama2.encode("hello world").length + 1, doc.length);
    // BPE (the project's GPT-2 style tokenizer) adds nothing
    org.junit.jupiter.api.Assertions.assertArrayEquals(BPE.encode("hello world"), BPE.encodeDocument("hello world"));
  }

  @Test
  void encode_promptAndCompletion_masksExactlyTheCompletionPositions() {
    int[] p = BPE.encode("The licence");
    int[] c = BPE.encode(" grants permission.");
    PromptCompletion q = PromptCompletion.encode(BPE, "q", "The licence", " grants permission.", 100);
    int[] expected = new int[p.length + c.length];
    int[] mask = new int[expected.length];
    for (int i = 0; i < expected.length; i++) {
      expected[i] = i < p.length ? p[i] : c[i - p.length];
      mask[i] = i < p.length ? 0 : 1;
    }
    assertArrayEquals(expected, q.tokens());
    assertArrayEquals(mask, q.lossMask());
    assertEquals(c.length, q.predictedTokens());
  }

  @Test
  void encode_emptyPrompt_firstCompletionTokenIsNotPredicted() {
    int n = BPE.encode("granted by this licence").length;
    PromptCompletion q = PromptCompletion.encode(BPE, "q", "", "granted by this licence", 100);
    assertEquals(0, q.lossMask()[0]);
    assertEquals(n - 1, q.predictedTokens());
  }

  @Test
  void encode_queryThatPredictsNothing_isRefusedNamingIt() {
    for (List<String> pc : List.of(List.of("a prompt", ""), List.of("", "x"), List.of("", ""))) {
      var e = assertThrows(IllegalArgumentException.class,
          () -> PromptCompletion.encode(BPE, "q-empty", pc.get(0), pc.get(1), 100), pc.toString());
      assertTrue(e.getMessage().contains("q-empty") && e.getMessage().contains("no completion token"), e.getMessage());
    }
  }

  @Test
  void encode_overTheContext_isRefusedNamingTheQuery() {
    int n = BPE.encode("abc").length + BPE.encode("xyz").length;
    var e = assertThrows(IllegalArgumentException.class,
        () -> PromptCompletion.encode(BPE, "q-long", "abc", "xyz", n - 1));
    assertTrue(e.getMessage().contains("q-long") && e.getMessage().contains(n + " tokens"), e.getMessage());
    assertEquals(n, PromptCompletion.encode(BPE, "q", "abc", "xyz", n).tokens().length);
  }
}
