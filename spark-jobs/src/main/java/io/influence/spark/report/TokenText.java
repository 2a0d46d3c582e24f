package io.influence.spark.report;

import io.influence.core.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.List;

/**
 * The text shown on each token of a sequence in the report. A byte-level BPE token can hold part of a character
 * (an emoji or a CJK character is often two to four byte tokens); decoded alone, such a part reads as U+FFFD. So a
 * token whose bytes end inside a character shows nothing, and the token that completes the character shows the
 * whole text since the last shown token. Only the sequence's last token may show an unfinished character (as
 * U+FFFD): its end was cut there (a window of a long text, or the context).
 */
public final class TokenText {

  private static final char REPLACEMENT = '\uFFFD';

  private TokenText() {}

  /** One display text per token of {@code tokens}; their concatenation is {@code tokenizer.decode(tokens)}. */
  public static List<String> of(Tokenizer tokenizer, int[] tokens) {
    List<String> out = new ArrayList<>(tokens.length);
    int start = 0;
    for (int t = 0; t < tokens.length; t++) {
      String text = tokenizer.decode(java.util.Arrays.copyOfRange(tokens, start, t + 1));
      boolean unfinished = !text.isEmpty() && text.charAt(text.length() - 1) == REPLACEMENT;
      if (unfinished && t + 1 < tokens.length) {
        out.add("");
        continue;
      }
      out.add(text);
      start = t + 1;
    }
    return out;
  }
}
