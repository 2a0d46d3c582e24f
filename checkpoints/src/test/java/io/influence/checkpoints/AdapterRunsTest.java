package io.influence.checkpoints;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.OptionalDouble;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A Trainer folder of PEFT adapter checkpoints on a local base model: base resolution, config and identity. */
class AdapterRunsTest {

  @TempDir
  Path tmp;

  private Path base(float seed) throws Exception {
    Path dir = tmp.resolve("base");
    Files.createDirectories(dir);
    ModelConfigs.write(dir.resolve("config.json"), CheckpointTest.GPT2);
    new SafetensorsWriter().put("transformer.wte.weight", new long[] {2}, new float[] {seed, seed + 1})
        .write(dir.resolve("model.safetensors"));
    return dir;
  }

  private Path adapter(Path run, String name, String basePath, float seed) throws Exception {
    Path dir = run.resolve(name);
    Files.createDirectories(dir);
    Files.writeString(dir.resolve(AdapterFolders.CONFIG), "{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 4,"
        + " \"target_modules\": [\"c_attn\"], \"base_model_name_or_path\": \"" + basePath + "\"}");
    new SafetensorsWriter().put("base_model.model.h.0.attn.c_attn.lora_A.weight", new long[] {2}, new float[] {seed, -seed})
        .write(dir.resolve("adapter_model.safetensors"));
    return dir;
  }

  private static String sha(Path... files) throws Exception {
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    for (Path f : files) {
      all.write(Files.readAllBytes(f));
    }
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(all.toByteArray()));
  }

  @Test
  void trainerFolderOfAdapters_configFromBase_hashCoversAdapterThenBase() throws Exception {
    Path base = base(1);
    Path run = tmp.resolve("run");
    Path a = adapter(run, "checkpoint-10", "../../base", 1);
    adapter(run, "checkpoint-20", base.toString(), 2);
    TrainingRun r = TrainingRuns.read(run, OptionalDouble.of(0.1));
    assertEquals(2, r.checkpoints().size());
    assertEquals(base.toAbsolutePath().normalize(), AdapterFolders.baseOf(a));
    assertEquals(sha(a.resolve("adapter_model.safetensors"), base.resolve("model.safetensors")),
        r.checkpoints().get(0).sha256());

    String before = TrainingRuns.sha256(a);
    base(7);   // retrained base, same adapter
    assertNotEquals(before, TrainingRuns.sha256(a), "a changed base must change the adapter checkpoint's identity");
  }

  @Test
  void hubIdAsBase_refusedNamingTheKeyAndTheFix() throws Exception {
    Path run = tmp.resolve("run");
    Path a = adapter(run, "checkpoint-1", "meta-llama/Llama-2-7b-hf", 1);
    CheckpointFormatException e = assertThrows(CheckpointFormatException.class,
        () -> TrainingRuns.read(run, OptionalDouble.of(0.1)));
    assertEquals(a.resolve(AdapterFolders.CONFIG), e.file());
    assertTrue(e.getMessage().contains("\"base_model_name_or_path\" \"meta-llama/Llama-2-7b-hf\" is not a local checkpoint folder"),
        e.getMessage());
    assertTrue(e.getMessage().contains("HINT: download the base model"), e.getMessage());
  }
}
