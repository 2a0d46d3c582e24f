package io.influence.core.tokenizer;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes src/test/resources/tokenizer/trained/tokenizer-512.json: BpeTrainer on the committed
 * corpus, 512 ids. The file is then given to Hugging Face's own tokenizers.js (see
 * trained/README.md), whose ids HfTokenizersJsTest compares with ours. Usage:
 * {@code java -cp <classes:test-classes:jackson jars> io.influence.core.tokenizer.TrainedFixtureGenerator <corpus dir> <out>}
 */
public final class TrainedFixtureGenerator {
  private TrainedFixtureGenerator() {}

  public static void main(String[] args) throws Exception {
    List<String> docs = new ArrayList<>();
    for (String f : List.of("apache-2.0.txt", "gpl-3.0.txt")) {
      docs.add(Files.readString(Path.of(args[0]).resolve(f), StandardCharsets.UTF_8));
    }
    Tokenizer t = BpeTrainer.train(docs, 512, Path.of(args[1]));
    System.out.println("wrote " + args[1] + " with " + t.vocabSize() + " ids");
  }
}
