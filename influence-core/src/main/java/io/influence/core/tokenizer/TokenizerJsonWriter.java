package io.influence.core.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/*
 * The writer of tokenizer.json files (the readers are in TokenizerFiles): what BpeTrainer trains is
 * saved in GPT-2's Hugging Face layout, which TokenizerFiles, Hugging Face tokenizers and
 * transformers all read back.
 */
final class TokenizerJsonWriter {
  private static final ObjectMapper JSON = new ObjectMapper();

  private TokenizerJsonWriter() {}

  /**
   * Writes a Hugging Face style tokenizer.json (GPT-2's layout: ByteLevel pre-tokenizer,
   * post-processor and decoder, BPE model, merges as "a b" strings which every tokenizers
   * version reads) atomically (temporary file + rename).
   *
   * @param vocab token -> id in id order
   * @param merges merges in rank order
   * @param special special tokens with their ids (listed as added_tokens only)
   */
  static void write(
      Path file, LinkedHashMap<String, Integer> vocab, List<String[]> merges, LinkedHashMap<String, Integer> special)
      throws IOException {
    ObjectNode root = JSON.createObjectNode();
    root.put("version", "1.0");
    root.putNull("truncation");
    root.putNull("padding");
    ArrayNode addedTokens = root.putArray("added_tokens");
    for (Map.Entry<String, Integer> s : special.entrySet()) {
      ObjectNode t = addedTokens.addObject();
      t.put("id", s.getValue());
      t.put("content", s.getKey());
      t.put("single_word", false);
      t.put("lstrip", false);
      t.put("rstrip", false);
      t.put("normalized", false);
      t.put("special", true);
    }
    root.putNull("normalizer");
    root.set("pre_tokenizer", byteLevel(false, true));
    root.set("post_processor", byteLevel(true, false));
    root.set("decoder", byteLevel(true, true));
    ObjectNode model = root.putObject("model");
    model.put("type", "BPE");
    model.putNull("dropout");
    model.putNull("unk_token");
    model.put("continuing_subword_prefix", "");
    model.put("end_of_word_suffix", "");
    model.put("fuse_unk", false);
    model.put("byte_fallback", false);
    model.put("ignore_merges", false);
    ObjectNode v = model.putObject("vocab");
    vocab.forEach(v::put);
    ArrayNode m = model.putArray("merges");
    for (String[] pair : merges) m.add(pair[0] + " " + pair[1]);
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp = dir.resolve(file.getFileName() + ".tmp-" + Long.toHexString(System.nanoTime()));
    try {
      try (var out = Files.newOutputStream(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        JSON.writerWithDefaultPrettyPrinter().writeValue(out, root);
      }
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  private static ObjectNode byteLevel(boolean addPrefixSpace, boolean trimOffsets) {
    ObjectNode n = JSON.createObjectNode();
    n.put("type", "ByteLevel");
    n.put("add_prefix_space", addPrefixSpace);
    n.put("trim_offsets", trimOffsets);
    n.put("use_regex", true);
    return n;
  }
}
