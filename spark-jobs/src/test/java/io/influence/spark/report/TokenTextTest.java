package io.influence.spark.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.tokenizer.BpeTrainer;
import io.influence.core.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Token texts of the report with a real byte-level BPE: characters split over tokens are shown whole. */
class TokenTextTest {

  @TempDir
  Path dir;

  private Tokenizer tokenizer() throws Exception {
    return BpeTrainer.train(List.of("the river runs north to the sea", "the old mills of the valley"), 270,
        dir.resolve("tokenizer.json"));
  }

  @Test
  void of_emojiAndCjkOverSeveralByteTokens_shownWholeOnTheCompletingToken() throws Exception {
    Tokenizer tokenizer = tokenizer();
    String text = "the river 🙂 runs 森林 north";
    int[] tokens = tokenizer.encode(text);
    assertTrue(tokenizer.encode("🙂").length >= 2 && tokenizer.encode("森").length >= 2,
        "the emoji and the CJK character must each span several byte tokens for this test to mean anything");
    List<String> shown = TokenText.of(tokenizer, tokens);
    assertEquals(tokens.length, shown.size());
    assertEquals(text, String.join("", shown));
    assertTrue(shown.stream().noneMatch(s -> s.indexOf('\uFFFD') >= 0), shown.toString());
    assertTrue(shown.stream().anyMatch(s -> s.contains("🙂")), shown.toString());
    assertTrue(shown.stream().anyMatch(s -> s.contains("森")) && shown.stream().anyMatch(s -> s.contains("林")),
        shown.toString());
    int emoji = shown.indexOf(shown.stream().filter(s -> s.contains("🙂")).findFirst().orElseThrow());
    assertEquals("", shown.get(emoji - 1), "the token before the one completing the emoji shows nothing");
    List<String> naive = Arrays.stream(tokens).mapToObj(t -> tokenizer.decode(new int[] {t})).toList();
    assertTrue(naive.stream().anyMatch(s -> s.indexOf('\uFFFD') >= 0), "decoding one token at a time gives U+FFFD");
  }

  @Test
  void of_sequenceCutInsideACharacter_onlyTheLastTokenShowsTheReplacement() throws Exception {
    Tokenizer tokenizer = tokenizer();
    int[] all = tokenizer.encode("the 🙂");
    int[] cut = Arrays.copyOf(all, all.length - 1);
    List<String> shown = TokenText.of(tokenizer, cut);
    assertEquals(tokenizer.decode(cut), String.join("", shown));
    for (int t = 0; t < shown.size() - 1; t++) {
      assertTrue(shown.get(t).indexOf('\uFFFD') < 0, shown.toString());
    }
    assertTrue(shown.get(shown.size() - 1).endsWith("\uFFFD"), shown.toString());
  }
}
