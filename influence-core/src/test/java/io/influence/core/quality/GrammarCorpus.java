package io.influence.core.quality;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A small generated language with word-level tokens, learnable in a few hundred steps by a tiny
 * GPT-2 yet too varied to memorise: sentences {@code the ADJ NOUN VERB the ADJ NOUN .} (and a
 * second shape {@code a NOUN VERB ADV .}), with 12 adjectives, 16 nouns, 12 verbs and 6 adverbs,
 * concatenated and cut to a fixed length. Shuffling a sequence's tokens keeps its word counts but
 * breaks every rule of the grammar, which is what data cleaning should catch.
 */
public final class GrammarCorpus {

  static final int THE = 0;
  static final int A = 1;
  static final int DOT = 2;
  static final int ADJ = 3;
  static final int NOUN = ADJ + 12;
  static final int VERB = NOUN + 16;
  static final int ADV = VERB + 12;
  public static final int VOCAB = ADV + 6;

  private GrammarCorpus() {}

  public static List<int[]> sequences(Random random, int count, int length) {
    List<int[]> out = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      List<Integer> words = new ArrayList<>();
      while (words.size() < length) {
        if (random.nextInt(3) == 0) {
          words.add(A);
          words.add(NOUN + random.nextInt(16));
          words.add(VERB + random.nextInt(12));
          words.add(ADV + random.nextInt(6));
        } else {
          words.add(THE);
          words.add(ADJ + random.nextInt(12));
          words.add(NOUN + random.nextInt(16));
          words.add(VERB + random.nextInt(12));
          words.add(THE);
          words.add(ADJ + random.nextInt(12));
          words.add(NOUN + random.nextInt(16));
        }
        words.add(DOT);
      }
      out.add(words.subList(0, length).stream().mapToInt(Integer::intValue).toArray());
    }
    return out;
  }
}
