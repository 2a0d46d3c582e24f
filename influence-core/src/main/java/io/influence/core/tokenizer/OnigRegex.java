package io.influence.core.tokenizer;

import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/*
 * Translates the regular expressions of a tokenizer.json (Hugging Face tokenizers compiles them
 * with Oniguruma, Ruby syntax, UTF-8) into java.util.regex, construct by construct, and refuses
 * every construct whose meaning differs between the two engines instead of guessing.
 *
 * Translated:
 *   \s        Unicode White_Space (TAB..CR, SPACE, U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028,
 *             U+2029, U+202F, U+205F, U+3000), as Oniguruma and Rust's regex define it; Java's
 *             default \s is ASCII only. ECMAScript's \s (the JavaScript ports) differs from this on
 *             U+0085 (not whitespace there) and U+FEFF (whitespace there).
 *   \S        the complement (outside a class only)
 *   \d \D \w  Unicode: \p{Nd}, \P{Nd}, [\p{L}\p{M}\p{Nd}\p{Pc}]
 *   \v        U+000B (Java's \v is a class of vertical whitespace)
 *   (?i:...)  (?iu:...): Unicode simple case folding, so 'S and 'ſ match (?i:'s) as in Oniguruma
 *   {,n}      {0,n}
 *   .         any code point but \n (Pattern.UNIX_LINES), as in Ruby syntax
 * Passed through: literals, \p{X} / \P{X} for a Unicode general category X, \r \n \t \f \xHH
 * \x{H..}, backslash-u escapes, escaped punctuation, (...), (?:...), lookaround, atomic groups, quantifiers
 * (greedy, lazy, possessive), alternation, classes with ranges and ^.
 * Refused (TokenizerFormatException by the caller): ^ and $ (line anchors in Ruby syntax), nested
 * classes and && , back-references, named groups, other inline flags, \b \A \z \h \R \X and any
 * other escape, and \p{...} with a name that is not a general category.
 */
final class OnigRegex {
  private OnigRegex() {}

  /** Unicode White_Space, the members of Oniguruma's and Rust's \s, as class content. */
  static final String WHITE_SPACE =
      "\\t\\n\\x0B\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";

  private static final String WORD = "\\p{L}\\p{M}\\p{Nd}\\p{Pc}";

  private static final Set<String> CATEGORIES = Set.of(
      "L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No",
      "P", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "S", "Sm", "Sc", "Sk", "So",
      "Z", "Zs", "Zl", "Zp", "C", "Cc", "Cf", "Co", "Cs", "Cn");

  /** A construct of the source pattern that has no faithful translation. */
  static final class UnsupportedRegexException extends Exception {
    private static final long serialVersionUID = 1L;

    UnsupportedRegexException(String message) {
      super(message);
    }
  }

  /** The java.util.regex pattern that matches what {@code onig} matches. */
  static Pattern compile(String onig) throws UnsupportedRegexException {
    String java = translate(onig);
    try {
      return Pattern.compile(java, Pattern.UNIX_LINES);
    } catch (PatternSyntaxException e) {
      throw new UnsupportedRegexException("it does not compile as translated (" + e.getDescription() + ")");
    }
  }

  static String translate(String p) throws UnsupportedRegexException {
    StringBuilder out = new StringBuilder(p.length() + 64);
    boolean inClass = false;
    int i = 0;
    while (i < p.length()) {
      char c = p.charAt(i);
      if (c == '\\') {
        if (i + 1 >= p.length()) throw new UnsupportedRegexException("it ends with a lone backslash");
        i = escape(p, i + 1, inClass, out);
        continue;
      }
      if (inClass) {
        if (c == '[') throw new UnsupportedRegexException("nested character classes ([...[...]...]) at " + i);
        if (c == '&' && i + 1 < p.length() && p.charAt(i + 1) == '&') {
          throw new UnsupportedRegexException("class intersection && at " + i);
        }
        if (c == ']') inClass = false;
        out.append(c);
        i++;
        continue;
      }
      switch (c) {
        case '[' -> {
          inClass = true;
          out.append('[');
          i++;
          if (i < p.length() && p.charAt(i) == '^') {
            out.append('^');
            i++;
          }
          if (i < p.length() && p.charAt(i) == ']') {
            throw new UnsupportedRegexException("a class starting with ] at " + i);
          }
        }
        case '(' -> i = group(p, i, out);
        case '^', '$' -> throw new UnsupportedRegexException("anchor " + c + " (a line anchor in Oniguruma) at " + i);
        case '{' -> {
          if (i + 1 < p.length() && p.charAt(i + 1) == ',') {
            out.append("{0");
          } else {
            out.append('{');
          }
          i++;
        }
        default -> {
          out.append(c);
          i++;
        }
      }
    }
    if (inClass) throw new UnsupportedRegexException("an unclosed character class");
    return out.toString();
  }

  private static int group(String p, int i, StringBuilder out) throws UnsupportedRegexException {
    if (i + 1 >= p.length() || p.charAt(i + 1) != '?') {
      out.append('(');
      return i + 1;
    }
    String rest = p.substring(i);
    for (String ok : new String[] {"(?:", "(?=", "(?!", "(?<=", "(?<!", "(?>"}) {
      if (rest.startsWith(ok)) {
        out.append(ok);
        return i + ok.length();
      }
    }
    if (rest.startsWith("(?i:")) {
      out.append("(?iu:");
      return i + 4;
    }
    throw new UnsupportedRegexException(
        "group " + rest.substring(0, Math.min(6, rest.length())) + "... at " + i
            + " (only (?:, (?i:, lookaround and atomic groups are translated)");
  }

  private static int escape(String p, int i, boolean inClass, StringBuilder out) throws UnsupportedRegexException {
    char e = p.charAt(i);
    switch (e) {
      case 's' -> out.append(inClass ? WHITE_SPACE : "[" + WHITE_SPACE + "]");
      case 'd' -> out.append("\\p{Nd}");
      case 'D' -> out.append("\\P{Nd}");
      case 'w' -> out.append(inClass ? WORD : "[" + WORD + "]");
      case 'S', 'W' -> {
        if (inClass) throw new UnsupportedRegexException("\\" + e + " inside a character class at " + (i - 1));
        out.append("[^").append(e == 'S' ? WHITE_SPACE : WORD).append(']');
      }
      case 'r', 'n', 't', 'f' -> out.append('\\').append(e);
      case 'v' -> out.append("\\x0B");
      case 'a' -> out.append("\\x07");
      case 'e' -> out.append("\\x1B");
      case 'p', 'P' -> {
        String name;
        int end;
        if (i + 1 < p.length() && p.charAt(i + 1) == '{') {
          end = p.indexOf('}', i + 2);
          if (end < 0) throw new UnsupportedRegexException("an unclosed \\" + e + "{ at " + (i - 1));
          name = p.substring(i + 2, end);
        } else if (i + 1 < p.length()) {
          end = i + 1;
          name = String.valueOf(p.charAt(i + 1));
        } else {
          throw new UnsupportedRegexException("a lone \\" + e + " at the end");
        }
        if (!CATEGORIES.contains(name)) {
          throw new UnsupportedRegexException("\\" + e + "{" + name + "} (only Unicode general categories are translated)");
        }
        out.append('\\').append(e).append('{').append(name).append('}');
        return end + 1;
      }
      case 'x' -> {
        int end;
        if (i + 1 < p.length() && p.charAt(i + 1) == '{') {
          end = p.indexOf('}', i + 2);
          if (end < 0 || !p.substring(i + 2, end).matches("[0-9A-Fa-f]{1,6}")) {
            throw new UnsupportedRegexException("a bad \\x{...} escape at " + (i - 1));
          }
          end++;
        } else {
          end = i + 3;
          if (end > p.length() || !p.substring(i + 1, end).matches("[0-9A-Fa-f]{2}")) {
            throw new UnsupportedRegexException("a bad \\xHH escape at " + (i - 1));
          }
        }
        out.append('\\').append(p, i, end);
        return end;
      }
      case 'u' -> {
        int end = i + 5;
        if (end > p.length() || !p.substring(i + 1, end).matches("[0-9A-Fa-f]{4}")) {
          throw new UnsupportedRegexException("a bad unicode escape at " + (i - 1));
        }
        out.append('\\').append(p, i, end);
        return end;
      }
      default -> {
        if (Character.isLetterOrDigit(e) || Character.isSurrogate(e)) {
          throw new UnsupportedRegexException("escape \\" + e + " at " + (i - 1));
        }
        out.append('\\').append(e);
      }
    }
    return i + 1;
  }
}
