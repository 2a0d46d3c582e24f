package io.influence.spark.report.html;

/**
 * HTML escaping for text content and double-quoted attribute values (the same rules serve both,
 * and also SVG text inside HTML).
 *
 * <p>Rules, applied code point by code point:
 *
 * <ul>
 *   <li>{@code & < > " '} become {@code &amp; &lt; &gt; &quot; &#39;}, so escaped text can close
 *       no element or attribute whatever the context it is placed in;
 *   <li>{@code \r\n} and lone {@code \r} become {@code \n} (HTML parsers normalise them anyway);
 *       tab and newline are kept (the report shows text with {@code white-space: pre-wrap});
 *   <li>other C0 controls (NUL included) and DEL become their visible Control Pictures
 *       (U+2400 + c, U+2421), since the HTML parser would drop or replace them silently;
 *   <li>C1 controls, lone surrogates (not encodable as UTF-8) and Unicode noncharacters become
 *       U+FFFD;
 *   <li>bidirectional formatting characters (embeddings, overrides and isolates U+202A–U+202E,
 *       U+2066–U+2069, and the marks U+200E, U+200F, U+061C) are shown, not applied: each becomes
 *       the visible text {@code ⟨U+202E⟩}, so corpus text cannot reorder what the report shows
 *       (the "Trojan Source" trick).
 * </ul>
 *
 * {@link #token} additionally shows line breaks inside highlighted tokens as a visible
 * {@code ↵} marker followed by the break, and a carriage return as {@code ␍}.
 */
final class Html {

  static final char REPLACEMENT = '\uFFFD';
  static final String NEWLINE_MARK = "\u21B5";

  private Html() {}

  /** Escapes text for element content or a double-quoted attribute value. */
  static String escape(String s) {
    StringBuilder out = new StringBuilder(s.length() + 16);
    escapeTo(out, s, false);
    return out.toString();
  }

  /** Escapes a token's text, marking line breaks visibly. */
  static String token(String s) {
    StringBuilder out = new StringBuilder(s.length() + 16);
    escapeTo(out, s, true);
    return out.toString();
  }

  static void escapeTo(StringBuilder out, String s, boolean markBreaks) {
    int n = s.length();
    for (int i = 0; i < n; ) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
        int cp = Character.toCodePoint(c, s.charAt(i + 1));
        out.appendCodePoint(isNonCharacter(cp) ? REPLACEMENT : cp);
        i += 2;
        continue;
      }
      i++;
      switch (c) {
        case '&' -> out.append("&amp;");
        case '<' -> out.append("&lt;");
        case '>' -> out.append("&gt;");
        case '"' -> out.append("&quot;");
        case '\'' -> out.append("&#39;");
        case '\t' -> out.append('\t');
        case '\n' -> out.append(markBreaks ? NEWLINE_MARK + "\n" : "\n");
        case '\r' -> {
          if (markBreaks) {
            out.append('\u240D');
          } else if (i < n && s.charAt(i) == '\n') {
            // CR LF: the LF that follows writes the break
          } else {
            out.append('\n');
          }
        }
        default -> {
          if (c < 0x20) {
            out.append((char) (0x2400 + c));
          } else if (c == 0x7F) {
            out.append('\u2421');
          } else if (isBidiControl(c)) {
            out.append('\u27E8').append(String.format(java.util.Locale.ROOT, "U+%04X", (int) c)).append('\u27E9');
          } else if ((c >= 0x80 && c <= 0x9F) || Character.isSurrogate(c) || isNonCharacter(c)) {
            out.append(REPLACEMENT);
          } else {
            out.append(c);
          }
        }
      }
    }
  }

  /** The characters that change the display order of the text around them. */
  static boolean isBidiControl(char c) {
    return (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069) || c == 0x200E || c == 0x200F
        || c == 0x061C;
  }

  private static boolean isNonCharacter(int cp) {
    return (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE;
  }
}
