package io.influence.core.tokenizer;

import java.util.regex.Pattern;

/*
 * GPT-2's byte-level alphabet and pre-tokeniser (Radford et al. 2019, "Language Models are
 * Unsupervised Multitask Learners", section 2.2; OpenAI's encoder.py).
 *
 * Byte alphabet: every byte 0..255 is shown as one printable code point so that BPE works on
 * strings. The 188 bytes that are printable Latin-1 ('!'..'~', '¡'..'¬', '®'..'ÿ') map to
 * themselves; the other 68 map, in increasing byte order, to U+0100, U+0101, ... (so ' ' is
 * 'Ġ' U+0120 and '\n' is 'Ċ' U+010A). ORDER lists the bytes in GPT-2's order (printable first),
 * which is also the order of ids 0..255 in GPT-2's encoder.json and in the vocabularies that
 * BpeTrainer writes.
 *
 * Pre-tokeniser: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * \p{L} and \p{N} are Unicode general categories on code points in java.util.regex as in
 * JavaScript's /u and Python's `regex`, so surrogate pairs (emoji, U+1D400 maths letters, CJK
 * extension B) are single characters. \s differs between engines, so it is spelled out: WS is
 * ECMAScript's \s (TAB, LF, VT, FF, CR, SPACE, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029,
 * U+202F, U+205F, U+3000, U+FEFF), which is what the independent reference (npm gpt-3-encoder)
 * uses. Python's `regex` (the original GPT-2) differs only on U+0085 (whitespace there, not here)
 * and U+FEFF (whitespace here, not there). Java 17's Unicode 13 tables may classify letters added
 * in Unicode 14/15 differently from newer engines.
 */
final class ByteLevel {
  private ByteLevel() {}

  /** Byte (0..255) -> its code point in the byte-level alphabet. */
  static final char[] BYTE_TO_CHAR = new char[256];
  /** Code point (< 0x200) -> byte, or -1 where the code point is not in the alphabet. */
  static final int[] CHAR_TO_BYTE = new int[0x200];
  /** Bytes in GPT-2's order: printable bytes first, then the rest. */
  static final int[] ORDER = new int[256];

  private static final String WS =
      "\\t\\n\\u000B\\f\\r \\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000\\uFEFF";

  static final Pattern PRE_TOKENIZER =
      Pattern.compile(
          "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^"
              + WS
              + "\\p{L}\\p{N}]+|["
              + WS
              + "]+(?![^"
              + WS
              + "])|["
              + WS
              + "]+");

  static {
    java.util.Arrays.fill(CHAR_TO_BYTE, -1);
    int k = 0;
    boolean[] printable = new boolean[256];
    for (int b = 0; b < 256; b++) {
      printable[b] = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      if (printable[b]) {
        ORDER[k++] = b;
        BYTE_TO_CHAR[b] = (char) b;
      }
    }
    int n = 0;
    for (int b = 0; b < 256; b++) {
      if (!printable[b]) {
        ORDER[k++] = b;
        BYTE_TO_CHAR[b] = (char) (256 + n++);
      }
    }
    for (int b = 0; b < 256; b++) CHAR_TO_BYTE[BYTE_TO_CHAR[b]] = b;
  }

  /** The byte-level string of raw bytes. */
  static String toSymbols(byte[] bytes) {
    char[] out = new char[bytes.length];
    for (int i = 0; i < bytes.length; i++) out[i] = BYTE_TO_CHAR[bytes[i] & 0xFF];
    return new String(out);
  }

  /** Raw bytes of a byte-level string, or null if it holds a code point outside the alphabet. */
  static byte[] toBytes(String symbols) {
    byte[] out = new byte[symbols.length()];
    for (int i = 0; i < symbols.length(); i++) {
      char c = symbols.charAt(i);
      if (c >= CHAR_TO_BYTE.length || CHAR_TO_BYTE[c] < 0) return null;
      out[i] = (byte) CHAR_TO_BYTE[c];
    }
    return out;
  }
}
