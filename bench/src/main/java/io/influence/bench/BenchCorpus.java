package io.influence.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.core.tokenizer.BpeTrainer;
import io.influence.core.tokenizer.Tokenizer;
import io.influence.spark.io.Queries;
import io.influence.spark.quickstart.Example;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * The quickstart-style corpus of the quality tasks, generated from a seed: real text (the fortunes of
 * Debian's fortunes-min, the quickstart's resource {@code quickstart/fortunes.txt}) with the statements
 * of {@link BenchFacts} inserted at seeded positions, and optionally a fraction of corrupted sequences
 * of two kinds, for the cleaning task:
 * <ul>
 *   <li>{@code shuffled}: a fortune whose tokens are put in a seeded random order, replacing the original
 *       fortune. Tokens are those of a byte-level BPE trained on the clean fortunes with the model's vocabulary
 *       size (the model's own tokenizer is trained later, on the corrupted corpus); the shuffled ids are
 *       decoded back to text, which reads as word fragments in random order ("ce the ing Th...");</li>
 *   <li>{@code contradiction}: a statement that contradicts a planted fact ("The capital of Zorbia is
 *       Brindlemoor."), the fact's verbatim or paraphrased prompt followed by its wrong answer, replacing
 *       a fortune (so the corpus size stays the same).</li>
 * </ul>
 * Writes {@code corpus.jsonl} ({@code id}, {@code text}) and {@code queries.jsonl} ({@code id},
 * {@code prompt}, {@code completion}) with two queries per fact: {@code qNN-v} (verbatim prompt) and
 * {@code qNN-p} (paraphrased prompt).
 */
final class BenchCorpus {

  static final String SHUFFLED = "shuffled";
  static final String CONTRADICTION = "contradiction";

  /**
   * What was written. {@code planted}: query id → ids of the sequences stating its fact; {@code corrupted}:
   * id → kind; {@code texts}: id → text, in corpus order.
   */
  record Written(Path corpus, Path queries, Map<String, List<String>> planted, Map<String, String> queryWording,
                 Map<String, String> corrupted, Map<String, String> texts, List<BenchFacts.Fact> facts,
                 List<Queries.Query> queryList) {}

  private static final ObjectMapper JSON = new ObjectMapper();

  private BenchCorpus() {}

  /** The fortunes of the quickstart resource, whitespace-collapsed, in file order. */
  static List<String> fortunes() {
    return Example.fortunes();
  }

  /**
   * @param fortunes how many fortunes of at most {@code maxChars} characters (0 = all that fit)
   * @param facts how many facts of {@link BenchFacts#ALL} to plant (the first ones)
   * @param corruptFraction fraction of the final corpus replaced by corrupted sequences (0 = none), half
   *     shuffled and half contradictions (the odd one shuffled)
   * @param vocabSize vocabulary of the BPE whose tokens are shuffled
   */
  static Written write(Path dir, int fortunes, int maxChars, int facts, double corruptFraction, int vocabSize,
                       long seed) {
    if (facts < 1 || facts > BenchFacts.ALL.size()) {
      throw new IllegalArgumentException("bench parameter facts=" + facts + " is out of range; HINT: 1 to "
          + BenchFacts.ALL.size());
    }
    if (!(corruptFraction >= 0 && corruptFraction < 0.5)) {
      throw new IllegalArgumentException("corrupt fraction " + corruptFraction + " is out of range [0, 0.5)");
    }
    Random random = new Random(seed);
    List<String[]> rows = new ArrayList<>();
    List<String> all = fortunes();
    for (int i = 0; i < all.size() && (fortunes == 0 || rows.size() < fortunes); i++) {
      if (all.get(i).length() <= maxChars) {
        rows.add(new String[] {String.format("fortune-%03d", i), all.get(i)});
      }
    }
    List<BenchFacts.Fact> used = BenchFacts.ALL.subList(0, facts);
    int plantedCount = used.stream().mapToInt(f -> f.statements().size()).sum();
    int total = rows.size() + plantedCount;
    int corrupt = (int) Math.round(corruptFraction * total);
    if (corrupt > rows.size() / 2) {
      throw new IllegalArgumentException(corrupt + " corrupted sequences wanted but only " + rows.size()
          + " fortunes; HINT: use more fortunes or a smaller corruption fraction");
    }
    Map<String, String> corrupted = new LinkedHashMap<>();
    List<Integer> victims = new ArrayList<>();
    for (int i = 0; i < rows.size(); i++) {
      victims.add(i);
    }
    Collections.shuffle(victims, random);
    int contradictions = corrupt / 2;
    Tokenizer shuffleTokens = corrupt > contradictions ? shuffleTokenizer(dir, rows, vocabSize) : null;
    for (int c = 0; c < corrupt; c++) {
      String[] row = rows.get(victims.get(c));
      if (c < contradictions) {
        BenchFacts.Fact f = used.get(c % used.size());
        String prompt = (c / used.size()) % 2 == 0 ? f.prompt() : f.paraphrase();
        row[0] = String.format("contradiction-%02d", c + 1);
        row[1] = prompt + f.wrongAnswer() + ".";
        corrupted.put(row[0], CONTRADICTION);
      } else {
        List<Integer> ids = new ArrayList<>();
        for (int id : shuffleTokens.encode(row[1])) {
          ids.add(id);
        }
        List<Integer> original = List.copyOf(ids);
        for (int attempt = 0; attempt < 10 && ids.equals(original); attempt++) {
          Collections.shuffle(ids, random);
        }
        row[0] = String.format("shuffled-%02d-%s", c + 1 - contradictions, row[0]);
        row[1] = shuffleTokens.decode(ids.stream().mapToInt(Integer::intValue).toArray()).strip();
        corrupted.put(row[0], SHUFFLED);
      }
    }
    Map<String, List<String>> planted = new LinkedHashMap<>();
    Map<String, String> wording = new LinkedHashMap<>();
    StringBuilder queries = new StringBuilder();
    List<Queries.Query> queryList = new ArrayList<>();
    for (int f = 0; f < used.size(); f++) {
      BenchFacts.Fact fact = used.get(f);
      List<String> ids = new ArrayList<>();
      for (int k = 0; k < fact.statements().size(); k++) {
        String id = String.format("planted-%02d-%c", f + 1, (char) ('a' + k));
        rows.add(random.nextInt(rows.size() + 1), new String[] {id, fact.statements().get(k)});
        ids.add(id);
      }
      for (String w : List.of("verbatim", "paraphrased")) {
        String qid = String.format("q%02d-%s", f + 1, w.charAt(0));
        planted.put(qid, ids);
        wording.put(qid, w);
        Queries.Query q = new Queries.Query(qid, w.equals("verbatim") ? fact.prompt() : fact.paraphrase(),
            fact.completion());
        queryList.add(q);
        queries.append(json(Map.of("id", q.id(), "prompt", q.prompt(), "completion", q.completion()))).append('\n');
      }
    }
    Map<String, String> texts = new LinkedHashMap<>();
    StringBuilder corpus = new StringBuilder();
    for (String[] r : rows) {
      texts.put(r[0], r[1]);
      corpus.append(json(Map.of("id", r[0], "text", r[1]))).append('\n');
    }
    try {
      Files.createDirectories(dir);
      Path c = dir.resolve("corpus.jsonl");
      Path q = dir.resolve("queries.jsonl");
      Files.writeString(c, corpus);
      Files.writeString(q, queries);
      return new Written(c, q, planted, wording, corrupted, texts, used, List.copyOf(queryList));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the bench corpus into " + dir + ": " + e.getMessage(), e);
    }
  }

  private static Tokenizer shuffleTokenizer(Path dir, List<String[]> rows, int vocabSize) {
    try {
      Files.createDirectories(dir);
      return BpeTrainer.train(rows.stream().map(r -> r[1]).toList(), vocabSize, dir.resolve("shuffle-tokenizer.json"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the shuffling tokenizer into " + dir + ": " + e.getMessage(), e);
    }
  }

  private static String json(Map<String, String> m) {
    try {
      return JSON.writeValueAsString(new TreeMap<>(m));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
