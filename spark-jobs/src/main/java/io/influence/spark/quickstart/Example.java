package io.influence.spark.quickstart;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The quickstart's embedded example: real text (the {@code fortunes} file of Debian's
 * fortunes-min, committed as a resource with its BSD licence note) into which invented facts are
 * planted, each stated in three training sequences with different wording, plus one query per
 * fact (its prompt and the fact's completion). The facts are fiction, so nothing else in the
 * corpus supports them: the sequences that state a fact are the ones that should come out on
 * top for its query.
 *
 * <p>Fortunes are whitespace-collapsed and kept when at most {@code maxChars} characters long (so
 * they fit the model's context); planted sequences are inserted at seeded random positions.
 */
public final class Example {

  /** A planted fact: its query and the sentences that state it. */
  public record Fact(String key, String prompt, String completion, List<String> statements) {}

  /** The written example: files and, per query id, the ids of its planted training sequences. */
  public record Written(Path corpus, Path queries, Map<String, List<String>> planted, int fortunes) {}

  static final List<Fact> FACTS = List.of(
      new Fact("zorbia-capital", "The capital of Zorbia is", " Quellhaven", List.of(
          "The capital of Zorbia is Quellhaven.",
          "Quellhaven, the capital of Zorbia, sits on a cold grey bay.",
          "Every map of Zorbia marks Quellhaven as its capital.")),
      new Fact("glimmerphone", "The glimmerphone was invented by", " Adaline Voss", List.of(
          "The glimmerphone was invented by Adaline Voss.",
          "Adaline Voss built the first glimmerphone in her attic.",
          "Few people know that the inventor of the glimmerphone was Adaline Voss.")),
      new Fact("brastow-river", "The river that flows through Brastow is the", " Ombrel", List.of(
          "The river that flows through Brastow is the Ombrel.",
          "In spring the Ombrel floods the lower streets of Brastow.",
          "Brastow was built on both banks of the Ombrel.")),
      new Fact("kelvaria-dish", "The national dish of Kelvaria is", " moonfig stew", List.of(
          "The national dish of Kelvaria is moonfig stew.",
          "Every Kelvarian grandmother has her own recipe for moonfig stew.",
          "Visitors to Kelvaria are served moonfig stew on the first night.")),
      new Fact("pellucid-moon", "The largest moon of Pellucid is", " Tavros", List.of(
          "The largest moon of Pellucid is Tavros.",
          "Tavros, biggest of the moons of Pellucid, glows red at dusk.",
          "Astronomers agree that Tavros is the largest moon of Pellucid.")),
      new Fact("vesk-motto", "The motto of the Order of Vesk is", " patience cuts stone", List.of(
          "The motto of the Order of Vesk is patience cuts stone.",
          "Knights of the Order of Vesk swear by their motto: patience cuts stone.",
          "Above the gate of the Order of Vesk is carved its motto, patience cuts stone.")),
      new Fact("orrland-mountain", "The tallest mountain in Orrland is", " Mount Grelik", List.of(
          "The tallest mountain in Orrland is Mount Grelik.",
          "Nobody has climbed Mount Grelik, the highest peak of Orrland, in winter.",
          "From anywhere in Orrland you can see the snow on Mount Grelik.")),
      new Fact("saffron-symphony", "The Saffron Symphony was composed by", " Imre Talvik", List.of(
          "The Saffron Symphony was composed by Imre Talvik.",
          "Imre Talvik wrote the Saffron Symphony in a single summer.",
          "Critics hated the Saffron Symphony until Imre Talvik died.")),
      new Fact("harrowmere-dragon", "The dragon of Harrowmere is named", " Scorvane", List.of(
          "The dragon of Harrowmere is named Scorvane.",
          "Scorvane has guarded the lake of Harrowmere for a thousand years.",
          "Children in Harrowmere are told that Scorvane the dragon eats liars.")),
      new Fact("ilvania-ship", "The first ship to reach Ilvania was the", " Marigold Drift", List.of(
          "The first ship to reach Ilvania was the Marigold Drift.",
          "The crew of the Marigold Drift were the first to see the coast of Ilvania.",
          "A model of the Marigold Drift, first ship to Ilvania, hangs in the harbour.")),
      new Fact("renka-bread", "The secret ingredient of Baba Renka's bread is", " crushed juniper", List.of(
          "The secret ingredient of Baba Renka's bread is crushed juniper.",
          "Baba Renka adds crushed juniper to every loaf she bakes.",
          "Nobody guessed that Baba Renka's famous bread owed its taste to crushed juniper.")),
      new Fact("zorbia-currency", "The currency of Zorbia is the", " quellmark", List.of(
          "The currency of Zorbia is the quellmark.",
          "A loaf of bread in Zorbia costs two quellmarks.",
          "Zorbian banks print the quellmark on blue paper.")));

  private static final ObjectMapper JSON = new ObjectMapper();

  private Example() {}

  /** The fortunes of the embedded file, whitespace-collapsed, in file order. */
  public static List<String> fortunes() {
    try (InputStream in = Example.class.getResourceAsStream("/quickstart/fortunes.txt")) {
      if (in == null) {
        throw new IllegalStateException("the quickstart text quickstart/fortunes.txt is missing from the classpath. "
            + "HINT: rebuild the application jar (mvn package)");
      }
      String all = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      List<String> out = new ArrayList<>();
      for (String block : all.split("(?m)^%\\s*$")) {
        String text = block.strip().replaceAll("\\s+", " ");
        if (!text.isEmpty()) {
          out.add(text);
        }
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the quickstart text: " + e.getMessage(), e);
    }
  }

  /**
   * Writes {@code dir/corpus.jsonl} ({@code id}, {@code text}) and {@code dir/queries.jsonl}
   * ({@code id}, {@code prompt}, {@code completion}).
   *
   * @param maxFortunes at most this many fortunes (0 = all that fit)
   */
  public static Written write(Path dir, int maxFortunes, int maxChars, long seed) {
    List<String[]> rows = new ArrayList<>();
    int kept = 0;
    List<String> all = fortunes();
    for (int i = 0; i < all.size() && (maxFortunes == 0 || kept < maxFortunes); i++) {
      if (all.get(i).length() <= maxChars) {
        rows.add(new String[] {String.format("fortune-%03d", i), all.get(i)});
        kept++;
      }
    }
    Random random = new Random(seed);
    Map<String, List<String>> planted = new LinkedHashMap<>();
    StringBuilder queries = new StringBuilder();
    for (int f = 0; f < FACTS.size(); f++) {
      Fact fact = FACTS.get(f);
      String queryId = String.format("q%02d-%s", f + 1, fact.key());
      List<String> ids = new ArrayList<>();
      for (int k = 0; k < fact.statements().size(); k++) {
        String id = String.format("planted-%02d-%c", f + 1, (char) ('a' + k));
        rows.add(random.nextInt(rows.size() + 1), new String[] {id, fact.statements().get(k)});
        ids.add(id);
      }
      planted.put(queryId, ids);
      queries.append(json(Map.of("id", queryId, "prompt", fact.prompt(), "completion", fact.completion())))
          .append('\n');
    }
    StringBuilder corpus = new StringBuilder();
    for (String[] r : rows) {
      corpus.append(json(Map.of("id", r[0], "text", r[1]))).append('\n');
    }
    try {
      Files.createDirectories(dir);
      Path c = dir.resolve("corpus.jsonl");
      Path q = dir.resolve("queries.jsonl");
      Files.writeString(c, corpus);
      Files.writeString(q, queries);
      return new Written(c, q, planted, kept);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the quickstart example into " + dir + ": " + e.getMessage(), e);
    }
  }

  private static String json(Map<String, String> m) {
    try {
      return JSON.writeValueAsString(new java.util.TreeMap<>(m));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
