package io.influence.core.hvp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.core.model.Gpt2Model;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;

/** The PyTorch fixture in src/test/resources/hvp (see the README there): model, layers, sequences, masks. */
final class HvpFixture {

  static final Path DIR = Path.of("src/test/resources/hvp");

  final Gpt2Model model;
  final List<String> layers = new ArrayList<>();
  final List<int[]> tokens = new ArrayList<>();
  final List<int[]> masks = new ArrayList<>();

  HvpFixture() throws Exception {
    model = Gpt2Model.load(DIR, DataType.DOUBLE);
    JsonNode in = new ObjectMapper().readTree(DIR.resolve("inputs.json").toFile());
    in.get("layers").forEach(n -> layers.add(n.asText()));
    in.get("tokens").forEach(n -> tokens.add(ints(n)));
    in.get("masks").forEach(n -> masks.add(n.isNull() ? null : ints(n)));
  }

  TrainingSequences data(int batchSize) {
    return new TrainingSequences(tokens, masks, batchSize);
  }

  private static int[] ints(JsonNode n) {
    int[] out = new int[n.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = n.get(i).asInt();
    }
    return out;
  }
}
