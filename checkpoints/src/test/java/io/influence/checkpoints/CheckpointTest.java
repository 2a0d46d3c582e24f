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

    private CheckpointFormatException refused(Path dir, Path file, String tensor, String phrase) {
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> Checkpoint.open(dir).close());
        assertEquals(file, e.file(), e.getMessage());
        assertEquals(tensor, e.tensor(), e.getMessage());
        assertTrue(e.getMessage().contains(phrase), "expected '" + phrase + "' in: " + e.getMessage());
        assertTrue(e.getMessage().contains("HINT: "), e.getMessage());
        return e;
    }

    private static String index(String... pairs) {
        StringBuilder sb = new StringBuilder("{\"metadata\":{},\"weight_map\":{");
        for (int i = 0; i < pairs.length; i += 2) {
            sb.append(i == 0 ? "" : ",").append('"').append(pairs[i]).append("\":\"").append(pairs[i + 1]).append('"');
        }
        return sb.append("}}").toString();
    }

    private static final String S1 = "model-00001-of-00002.safetensors";
    private static final String S2 = "model-00002-of-00002.safetensors";

    @Test
    void open_shardMissing_refusedNamingTensorAndShard() throws Exception {
        Path dir = shardedFolder(index("a", S1, "b", S2, "c", S2, "d", "model-00003-of-00003.safetensors"));
        refused(dir, dir.resolve(Checkpoint.INDEX), "d", "model-00003-of-00003.safetensors\", which does not exist");
    }

    @Test
    void open_shardNameEscapesFolder_refused() throws Exception {
        Path dir = shardedFolder(index("a", S1, "b", S2, "c", "../" + S2));
        refused(dir, dir.resolve(Checkpoint.INDEX), "c", "not a plain file name inside the checkpoint folder");
    }

    @Test
    void open_shardNameAbsolute_refused() throws Exception {
        Path dir = shardedFolder(index("a", S1, "b", S2, "c", tmp.resolve("sharded").resolve(S2).toAbsolutePath().toString()));
        refused(dir, dir.resolve(Checkpoint.INDEX), "c", "not a plain file name");
    }

    @Test
    void open_shardNameDotDot_refused() throws Exception {
        Path dir = shardedFolder(index("a", S1, "b", S2, "c", ".."));
        refused(dir, dir.resolve(Checkpoint.INDEX), "c", "not a plain file name");
    }

    @Test
    void open_mappedTensorNotInItsShard_refused() throws Exception {
        Path dir = shardedFolder(index("a", S2, "b", S2, "c", S2));
        refused(dir, dir.resolve(Checkpoint.INDEX), "a", "is mapped to shard " + S2 + ", which does not contain it");
    }

    @Test
    void open_tensorInTwoShards_refused() throws Exception {
        Path dir = shardedFolder(GOOD_INDEX);
        new SafetensorsWriter().put("a", new long[] {2}, new float[] {1, 2}).put("b", new long[] {1}, new float[] {9})
                .write(dir.resolve(S1));
        refused(dir, dir.resolve(Checkpoint.INDEX), "b", "is stored in two shards");
    }

    @Test
    void open_shardHoldsUnmappedTensor_refused() throws Exception {
        Path dir = shardedFolder(index("a", S1, "b", S2));
        refused(dir, dir.resolve(Checkpoint.INDEX), "c", "the weight_map does not map it there");
    }

    @Test
    void open_weightMapMissing_refused() throws Exception {
        Path dir = shardedFolder("{\"metadata\":{}}");
        refused(dir, dir.resolve(Checkpoint.INDEX), null, "\"weight_map\" must be a non-empty object");
    }

    @Test
    void open_weightMapValueNotString_refused() throws Exception {
        Path dir = shardedFolder("{\"weight_map\":{\"a\":1}}");
        refused(dir, dir.resolve(Checkpoint.INDEX), "a", "instead of a shard file name");
    }

    @Test
    void open_indexNotJson_refused() throws Exception {
        Path dir = shardedFolder("{\"weight_map\":");
        refused(dir, dir.resolve(Checkpoint.INDEX), null, "not valid JSON");
    }

    @Test
    void open_indexMetadataNotObject_refused() throws Exception {
        Path dir = shardedFolder("{\"metadata\":3," + GOOD_INDEX.substring(GOOD_INDEX.indexOf("\"weight_map\"")));
        refused(dir, dir.resolve(Checkpoint.INDEX), null, "\"metadata\" must be an object");
    }

    @Test
    void open_corruptShard_refusedNamingShardFile() throws Exception {
        Path dir = shardedFolder(GOOD_INDEX);
        Files.write(dir.resolve(S2), new byte[] {1, 2, 3});
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> Checkpoint.open(dir));
        assertEquals(dir.resolve(S2), e.file());
    }

    @Test
    void open_singleFileAndIndex_singleFileUsed() throws Exception {
        Path dir = gpt2Folder(tmp.resolve("both"));
        Files.writeString(dir.resolve(Checkpoint.INDEX), index("x", "missing.safetensors"));
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals(Set.of("transformer.wte.weight", "transformer.ln_f.bias"), c.tensorNames());
        }
    }

    @Test
    void open_missingConfig_refused() throws Exception {
        Path dir = gpt2Folder(tmp.resolve("noconfig"));
        Files.delete(dir.resolve("config.json"));
        refused(dir, dir.resolve("config.json"), null, "does not exist");
    }

    @Test
    void open_noWeights_refusedListingFolder() throws Exception {
        Path dir = gpt2Folder(tmp.resolve("noweights"));
        Files.delete(dir.resolve("model.safetensors"));
        refused(dir, dir, null, "has neither model.safetensors nor model.safetensors.index.json (it holds: config.json)");
    }

    @Test
    void open_folderWithOnlyPytorchModelBin_refusedAsPickle() throws Exception {
        Path dir = tmp.resolve("pickled");
        Files.createDirectories(dir);
        ModelConfigs.write(dir.resolve("config.json"), GPT2);
        Files.write(dir.resolve("pytorch_model.bin"), new byte[] {(byte) 0x80, 2, 'c', 'o', 's', '\n'});
        CheckpointFormatException e = refused(dir, dir.resolve("pytorch_model.bin"), null, "pickle can execute arbitrary code");
        assertTrue(e.getMessage().contains("safe_serialization=True"), e.getMessage());
    }

    @Test
    void open_pickleFilePath_refusedAsPickle() {
        Path p = tmp.resolve("model.pt");
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> Checkpoint.open(p));
        assertTrue(e.getMessage().contains("arbitrary code"), e.getMessage());
    }

    @Test
    void open_indexPointingAtPickleShard_refusedAsPickle() throws Exception {
        Path dir = shardedFolder(index("a", S1, "b", S2, "c", "pytorch_model-00002-of-00002.bin"));
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> Checkpoint.open(dir));
        assertTrue(e.getMessage().contains("arbitrary code"), e.getMessage());
    }

    @Test
    void open_notAFolder_refused() {
        Path p = tmp.resolve("absent");
        refused(p, p, null, "does not exist");
    }

    @Test
    void readFloats_afterClose_illegalState() throws Exception {
        Checkpoint c = Checkpoint.open(gpt2Folder(tmp.resolve("closed")));
        c.close();
        assertThrows(IllegalStateException.class, () -> c.readFloats("transformer.ln_f.bias"));
    }
}
