package io.influence.core.tokenizer;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/**
 * Encoding speed on one thread (a bench command, not a test). Usage:
 * {@code java -cp <classes:test-classes:jackson jars> io.influence.core.tokenizer.TokenizerBench <resources/tokenizer dir>}
 * Prints MB/s of UTF-8 input for GPT-2 on English (the committed licence texts): "warm" repeats the
 * text so that the per-piece cache is hot (as on a large English corpus), "cold" uses a fresh
 * tokenizer for every pass (cache empty at the start of each pass), "no cache" runs the regex and BPE
 * on every piece.
 */
public final class TokenizerBench {
  private TokenizerBench() {}

  public static void main(String[] args) throws Exception {
    Path res = Path.of(args[0]);
    Path vocab = res.resolve("gpt2/encoder.json"), merges = res.resolve("gpt2/vocab.bpe");
    String text = java.nio.file.Files.readString(res.resolve("corpus/apache-2.0.txt"))
        + java.nio.file.Files.readString(res.resolve("corpus/gpl-3.0.txt"));
    long bytes = text.getBytes(StandardCharsets.UTF_8).length;
    long t0 = System.nanoTime();
    Tokenizer gpt2 = Tokenizer.fromVocabAndMerges(vocab, merges);
    System.out.printf("load GPT-2 vocab+merges: %.0f ms%n", (System.nanoTime() - t0) / 1e6);
    long sink = 0;
    for (int round = 0; round < 3; round++) {
      int passes = 200;
      long start = System.nanoTime();
      for (int p = 0; p < passes; p++) sink += gpt2.encode(text).length;
      double s = (System.nanoTime() - start) / 1e9;
      System.out.printf("warm: %.1f MB in %.2f s = %.1f MB/s%n", bytes * passes / 1e6, s, bytes * passes / 1e6 / s);
    }
    for (int round = 0; round < 3; round++) {
      int passes = 20;
      List<Tokenizer> fresh = new java.util.ArrayList<>();
      for (int p = 0; p < passes; p++) fresh.add(Tokenizer.fromVocabAndMerges(vocab, merges));
      long start = System.nanoTime();
      for (Tokenizer t : fresh) sink += t.encode(text).length;
      double s = (System.nanoTime() - start) / 1e9;
      System.out.printf("cold: %.1f MB in %.2f s = %.1f MB/s%n", bytes * passes / 1e6, s, bytes * passes / 1e6 / s);
    }
    ByteLevelBpe impl = (ByteLevelBpe) gpt2;
    for (int round = 0; round < 3; round++) {
      int passes = 20;
      long start = System.nanoTime();
      for (int p = 0; p < passes; p++) {
        java.util.regex.Matcher m = ByteLevel.PRE_TOKENIZER.matcher(text);
        while (m.find()) sink += impl.bpe(m.group()).length;
      }
      double s = (System.nanoTime() - start) / 1e9;
      System.out.printf("no cache (regex + BPE on every piece): %.1f MB in %.2f s = %.1f MB/s%n", bytes * passes / 1e6, s,
          bytes * passes / 1e6 / s);
    }
    System.out.println("tokens per pass " + gpt2.encode(text).length + ", bytes per pass " + bytes + " (" + sink + ")");
  }
}
