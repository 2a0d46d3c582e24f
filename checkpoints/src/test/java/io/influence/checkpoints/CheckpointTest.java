package io.influence.checkpoints;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Checkpoint folders: single file, shards, and every way a shard index can be wrong. */
class CheckpointTest {
    @TempDir
    Path tmp;

    static final Gpt2Config GPT2 = new Gpt2Config(11, 8, 6, 1, 2, 1e-5, "gelu_new");

    static Path gpt2Folder(Path dir) throws Exception {
        Files.createDirectories(dir);
        ModelConfigs.write(dir.resolve("config.json"), GPT2);
        new SafetensorsWriter()
                .put("transformer.wte.weight", new long[] {2, 3}, new float[] {1, 2, 3, 4, 5, 6})
                .put("transformer.ln_f.bias", new long[] {3}, new float[] {-1, 0, 1})
                .write(dir.resolve("model.safetensors"));
        return dir;
    }

    private Path shardedFolder(String index) throws Exception {
        Path dir = tmp.resolve("sharded");
        Files.createDirectories(dir);
        ModelConfigs.write(dir.resolve("config.json"), GPT2);
        new SafetensorsWriter().put("a", new long[] {2}, new float[] {1, 2}).write(dir.resolve("model-00001-of-00002.safetensors"));
        new SafetensorsWriter().put("b", new long[] {1}, new float[] {3}).put("c", new long[] {1}, new double[] {4})
                .write(dir.resolve("model-00002-of-00002.safetensors"));
        Files.writeString(dir.resolve("model.safetensors.index.json"), index, StandardCharsets.UTF_8);
        return dir;
    }

    private static final String GOOD_INDEX = "{\"metadata\":{\"total_size\":24},\"weight_map\":{"
            + "\"a\":\"model-00001-of-00002.safetensors\",\"b\":\"model-00002-of-00002.safetensors\","
            + "\"c\":\"model-00002-of-00002.safetensors\"}}";

    @Test
    void open_singleFile_readsConfigAndTensors() throws Exception {
        try (Checkpoint c = Checkpoint.open(gpt2Folder(tmp.resolve("ckpt")))) {
            assertEquals(GPT2, c.config());
            assertEquals(Set.of("transformer.wte.weight", "transformer.ln_f.bias"), c.tensorNames());
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, c.readFloats("transformer.wte.weight"));
            assertArrayEquals(new double[] {-1, 0, 1}, c.readDoubles("transformer.ln_f.bias"));
            assertArrayEquals(new long[] {2, 3}, c.info("transformer.wte.weight").shape());
        }
    }

    @Test
    void open_shardedIndex_readsTensorsFromEachShard() throws Exception {
        try (Checkpoint c = Checkpoint.open(shardedFolder(GOOD_INDEX))) {
            assertEquals(Set.of("a", "b", "c"), c.tensorNames());
            assertArrayEquals(new float[] {1, 2}, c.readFloats("a"));
            assertArrayEquals(new float[] {3}, c.readFloats("b"));
            assertArrayEquals(new double[] {4}, c.readDoubles("c"));
        }
    }

    @Test
    void read_missingTensor_errorNamesTensorAndListsOthers() throws Exception {
        try (Checkpoint c = Checkpoint.open(shardedFolder(GOOD_INDEX))) {
            CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> c.readFloats("zz"));
            assertEquals("zz", e.tensor());
            assertTrue(e.getMessage().contains("a, b, c"), e.getMessage());
        }
    }
}
