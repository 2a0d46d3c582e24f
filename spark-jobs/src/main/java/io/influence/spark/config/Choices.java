package io.influence.spark.config;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * Settings whose value is one word of a closed set. The word is the enum constant in lower case with
 * {@code -} for {@code _} ({@code PER_TOKEN} is {@code per-token}); an unknown word fails naming the setting
 * and every word it accepts.
 */
public final class Choices {

  private Choices() {}

  /** The constant of {@code type} spelled {@code word} in setting {@code key} (relative to {@code influence}). */
  public static <E extends Enum<E>> E parse(Class<E> type, String key, String word) {
    for (E e : type.getEnumConstants()) {
      if (word(e).equals(word)) {
        return e;
      }
    }
    throw new IllegalArgumentException("influence." + key + " must be " + words(type) + ", got \"" + word + "\"");
  }

  /** How {@code choice} is spelled in the settings and in outputs. */
  public static String word(Enum<?> choice) {
    return choice.name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /** Every word of {@code type}, quoted, for messages: {@code "a", "b" or "c"}. */
  public static <E extends Enum<E>> String words(Class<E> type) {
    String all = Arrays.stream(type.getEnumConstants()).map(e -> "\"" + word(e) + "\"")
        .collect(Collectors.joining(", "));
    int last = all.lastIndexOf(", ");
    return last < 0 ? all : all.substring(0, last) + " or " + all.substring(last + 2);
  }
}
