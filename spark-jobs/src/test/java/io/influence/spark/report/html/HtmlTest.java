package io.influence.spark.report.html;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.api.Test;

class HtmlTest {

  private static final int FUZZ_CASES = 2000;

  @Test
  void escape_scriptTag_becomesText() {
    assertEquals("&lt;script&gt;alert(1)&lt;/script&gt;", Html.escape("<script>alert(1)</script>"));
  }

  @Test
  void escape_attributeBreakout_quotesAndBracketsEscaped() {
    assertEquals("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;", Html.escape("\"><img src=x onerror=alert(1)>"));
  }

  @Test
  void escape_literalEntityAndApostrophe_escapedAgain() {
    assertEquals("&amp;amp; it&#39;s", Html.escape("&amp; it's"));
    assertEquals("&lt;/style&gt;", Html.escape("</style>"));
  }

  @Test
  void escape_controlCharacters_becomeControlPictures() {
    assertEquals("a\u2400b\u2407c\u241Bd\u2421e", Html.escape("a\u0000b\u0007c\u001Bd\u007Fe"));
    assertEquals("x\uFFFDy\uFFFDz", Html.escape("x\u0085y\u009Fz"));
  }

  @Test
  void escape_loneSurrogatesAndNonCharacters_becomeReplacementCharacter() {
    assertEquals("a\uFFFDb\uFFFDc", Html.escape("a\uD800b\uDC00c"));
    assertEquals("end\uFFFD", Html.escape("end\uD83D"));
    assertEquals("\uFFFD\uFFFD", Html.escape("\uDE42\uD83D"));
    assertEquals("ok 🙂 東京", Html.escape("ok 🙂 東京"));
    assertEquals("\uFFFD\uFFFD\uFFFD", Html.escape("\uFFFE\uFDD0" + new String(Character.toChars(0x1FFFF))));
  }

  @Test
  void escape_lineBreaks_normalisedAndTabsKept() {
    assertEquals("a\nb\nc\nd\te", Html.escape("a\r\nb\rc\nd\te"));
  }

  @Test
  void token_lineBreaks_markedVisibly() {
    assertEquals("a\u21B5\nb", Html.token("a\nb"));
    assertEquals("a\u240D\u21B5\nb", Html.token("a\r\nb"));
    assertEquals("\u21B5\n", Html.token("\n"));
  }

  @Test
  void escape_randomHostileStrings_noMarkupCharactersAndValidUtf8() throws CharacterCodingException {
    char[] alphabet = {'<', '>', '&', '"', '\'', '/', '=', ';', '#', 'a', 's', ' ', '\n', '\r', '\t', '\u0000',
      '\u0085', '\uD83D', '\uDE42', '\uFFFF', 'é'};
    Random rnd = new Random(7);
    var encoder = StandardCharsets.UTF_8.newEncoder()
        .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
    for (int c = 0; c < FUZZ_CASES; c++) {
      StringBuilder s = new StringBuilder();
      int len = rnd.nextInt(20);
      for (int i = 0; i < len; i++) {
        s.append(alphabet[rnd.nextInt(alphabet.length)]);
      }
      for (String escaped : new String[] {Html.escape(s.toString()), Html.token(s.toString())}) {
        for (char bad : new char[] {'<', '>', '"', '\'', '\r', '\u0000'}) {
          assertFalse(escaped.indexOf(bad) >= 0, () -> "raw " + (int) bad + " in " + escaped);
        }
        String rest = escaped.replaceAll("&(amp|lt|gt|quot|#39);", "");
        assertFalse(rest.contains("&"), () -> "bare & in " + escaped);
        encoder.encode(CharBuffer.wrap(escaped)); // throws on a lone surrogate
      }
    }
  }

  @Test
  void escape_plainTextRoundTrip_decodesToOriginal() {
    String original = "if (a < b && c > d) { s = \"x\"; t = 'y'; } // &amp; stays literal\n\tdone 🙂";
    String decoded = Html.escape(original).replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"")
        .replace("&#39;", "'").replace("&amp;", "&");
    assertEquals(original, decoded);
    assertTrue(Html.escape(original).contains("&amp;amp;"));
  }

  @Test
  void escape_bidiControls_areShownNotApplied() {
    // every code point that Unicode's Bidi_Control property lists (UAX #9), by an independent enumeration
    for (int cp = 0; cp <= 0xFFFF; cp++) {
      boolean bidi = cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E)
          || (cp >= 0x2066 && cp <= 0x2069);
      if (!bidi) {
        continue;
      }
      String text = "user\u0020" + (char) cp + "admin";
      String html = Html.escape(text);
      assertFalse(html.indexOf(cp) >= 0, "U+" + Integer.toHexString(cp) + " must not reach the document");
      assertEquals("user \u27E8" + String.format("U+%04X", cp) + "\u27E9admin", html);
      assertEquals(html, Html.token(text));
    }
    assertEquals("\u05D0\u05D1 abc", Html.escape("\u05D0\u05D1 abc"), "right-to-left letters themselves are kept");
  }
}
