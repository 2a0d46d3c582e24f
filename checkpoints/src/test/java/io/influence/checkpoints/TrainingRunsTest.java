package io.influence.checkpoints;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.OptionalDouble;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Training runs from our manifest and from Hugging Face Trainer folders, including every error case. */
class TrainingRunsTest {
    private static final OptionalDouble NONE = OptionalDouble.empty();

    @TempDir
    Path tmp;
    Path run;

    @BeforeEach
    void setUp() throws Exception {
        run = tmp.resolve("run");
        Files.createDirectories(run);
    }

    /** A GPT-2 checkpoint folder whose weights depend on {@code seed}, so hashes differ. */
    private Path checkpoint(String name, float seed) throws Exception {
        Path dir = run.resolve(name);
        Files.createDirectories(dir);
        ModelConfigs.write(dir.resolve("config.json"), CheckpointTest.GPT2);
        new SafetensorsWriter().put("transformer.wte.weight", new long[] {2}, new float[] {seed, seed + 1})
                .write(dir.resolve("model.safetensors"));
        return dir;
    }

    /** SHA-256 computed here by brute force: every *.safetensors file read whole, concatenated in name order. */
    private static String expectedSha(Path dir, String... files) throws Exception {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        for (String f : files) {
            all.write(Files.readAllBytes(dir.resolve(f)));
        }
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(all.toByteArray()));
    }

    private void manifest(String json) throws Exception {
        Files.writeString(run.resolve(TrainingRuns.MANIFEST), json);
    }

    private static String entry(long step, String lr, String path) {
        return "{\"step\":" + step + (lr == null ? "" : ",\"learning_rate\":" + lr) + ",\"path\":\"" + path + "\"}";
    }

    private static String manifestOf(String... entries) {
        return "{\"format\":\"influence-run/1\",\"checkpoints\":[" + String.join(",", entries) + "]}";
    }

    private CheckpointFormatException refused(OptionalDouble lr, Path file, String phrase) {
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> TrainingRuns.read(run, lr));
        assertEquals(file, e.file(), e.getMessage());
        assertTrue(e.getMessage().contains(phrase), "expected '" + phrase + "' in: " + e.getMessage());
        assertTrue(e.getMessage().contains("HINT: "), e.getMessage());
        return e;
    }

    // ------------------------------------------------------------------ manifest

    @Test
    void read_manifest_checkpointsByStepWithRatesAndHashes() throws Exception {
        Path c200 = checkpoint("checkpoint-200", 2);
        Path c100 = checkpoint("ckpt/first", 1);
        manifest("{\"format\":\"influence-run/1\",\"checkpoints\":[" + entry(200, "1e-4", "checkpoint-200") + ","
                + "{\"step\":100,\"learning_rate\":3e-4,\"path\":\"ckpt/first\",\"sha256\":\""
                + expectedSha(c100, "model.safetensors").toUpperCase() + "\"}]}");
        TrainingRun r = TrainingRuns.read(run, NONE);
        assertEquals(List.of(
                new RunCheckpoint(100, 3e-4, c100, expectedSha(c100, "model.safetensors")),
                new RunCheckpoint(200, 1e-4, c200, expectedSha(c200, "model.safetensors"))), r.checkpoints());
    }

    @Test
    void read_manifestWithConstantRate_constantOverridesRecordedRates() throws Exception {
        checkpoint("a", 1);
        checkpoint("b", 2);
        manifest(manifestOf(entry(1, "0.5", "a"), entry(2, null, "b")));
        TrainingRun r = TrainingRuns.read(run, OptionalDouble.of(0.01));
        assertEquals(0.01, r.checkpoints().get(0).learningRate());
        assertEquals(0.01, r.checkpoints().get(1).learningRate());
    }

    @Test
    void read_manifestShaMismatch_refused() throws Exception {
        checkpoint("a", 1);
        manifest("{\"format\":\"influence-run/1\",\"checkpoints\":[{\"step\":1,\"learning_rate\":0.1,\"path\":\"a\","
                + "\"sha256\":\"" + "0".repeat(64) + "\"}]}");
        refused(NONE, run.resolve(TrainingRuns.MANIFEST), "but the manifest records \"" + "0".repeat(64));
    }

    @Test
    void read_manifestPathEscapingRun_refused() throws Exception {
        checkpoint("a", 1);
        Files.createDirectories(tmp.resolve("outside"));
        manifest(manifestOf(entry(1, "0.1", "../outside")));
        refused(NONE, run.resolve(TrainingRuns.MANIFEST), "points outside the run folder");
    }

    @Test
    void read_manifestAbsolutePath_refused() throws Exception {
        Path a = checkpoint("a", 1);
        manifest(manifestOf(entry(1, "0.1", a.toString())));
        refused(NONE, run.resolve(TrainingRuns.MANIFEST), "must be a non-empty relative path");
    }

    @Test
    void read_manifestSymlinkLeavingRun_refused() throws Exception {
        Path outside = tmp.resolve("elsewhere");
        Files.createDirectories(outside);
        Files.createSymbolicLink(run.resolve("link"), outside);
        manifest(manifestOf(entry(1, "0.1", "link")));
        refused(NONE, run.resolve(TrainingRuns.MANIFEST), "through a symbolic link");
    }

    @Test
    void read_manifestDuplicateSteps_refused() throws Exception {
        checkpoint("a", 1);
        checkpoint("b", 2);
        manifest(manifestOf(entry(5, "0.1", "a"), entry(5, "0.1", "b")));
        refused(NONE, run.resolve(TrainingRuns.MANIFEST), "step 5 is listed twice (a and b)");
    }

    @Test
    void read_manifestNoCheckpoints_refused() throws Exception {
        manifest(manifestOf());
        refused(NONE, run.resolve(TrainingRuns.MANIFEST), "lists no checkpoints");
    }

    @Test
    void read_manifestMissingRate_refusedNamingEntry() throws Exception {
        checkpoint("a", 1);
        manifest(manifestOf(entry(7, null, "a")));
        refused(NONE, run.resolve(TrainingRuns.MANIFEST), "checkpoints[0] (step 7) has no learning_rate");
    }

    @Test
    void read_manifestZeroRate_refused() throws Exception {
        checkpoint("a", 1);
        manifest(manifestOf(entry(7, "0", "a")));
        refused(NONE, run.resolve(TrainingRuns.MANIFEST), "learning rate 0.0, which is not positive");
    }

    @Test
    void read_manifestNegativeRate_refused() throws Exception {
        checkpoint("a", 1);
        manifest(manifestOf(entry(7, "-1e-4", "a")));
        refused(NONE, run.resolve(TrainingRuns.MANIFEST), "learning rate -1.0E-4, which is not positive");
    }

    @Test
    void read_manifestOverflowingRate_refused() throws Exception {
        checkpoint("a", 1);
        manifest(manifestOf(entry(7, "1e999", "a")));
        refused(NONE, run.resolve(TrainingRuns.MANIFEST), "learning rate Infinity, which is not positive and finite");
    }

    @Test
    void read_manifestRateAsString_refused() throws Exception {
        checkpoint("a", 1);
        manifest(manifestOf(entry(7, "\"3e-4\"", "a")));
        refused(NONE, run.resolve(TrainingRuns.MANIFEST), ".learning_rate must be a number but is a string");
    }

    @Test
    void read_manifestNegativeStep_refused() throws Exception {
        checkpoint("a", 1);
        manifest(manifestOf(entry(-3, "0.1", "a")));
        refused(NONE, run.resolve(TrainingRuns.MANIFEST), "checkpoints[0].step must be a non-negative integer");
    }

    @Test
    void read_manifestWrongFormat_refused() throws Exception {
        manifest("{\"format\":\"influence-run/2\",\"checkpoints\":[]}");
        refused(NONE, run.resolve(TrainingRuns.MANIFEST), "\"format\" must be \"influence-run/1\"");
    }

    @Test
    void read_manifestUnknownField_refused() throws Exception {
        checkpoint("a", 1);
        manifest(manifestOf("{\"step\":1,\"learning-rate\":0.1,\"path\":\"a\"}"));
        refused(NONE, run.resolve(TrainingRuns.MANIFEST), "unknown field \"learning-rate\"");
    }

    @Test
    void read_manifestPathNotAFolder_refused() throws Exception {
        manifest(manifestOf(entry(1, "0.1", "gone")));
        refused(NONE, run.resolve(TrainingRuns.MANIFEST), "\"gone\" is not a folder");
    }

    @Test
    void read_manifestCheckpointWithoutWeights_refusedNamingFolder() throws Exception {
        Path a = checkpoint("a", 1);
        Files.delete(a.resolve("model.safetensors"));
        manifest(manifestOf(entry(1, "0.1", "a")));
        refused(NONE, a, "has neither model.safetensors");
    }

    @Test
    void read_manifestCheckpointsWithDifferentConfigs_refused() throws Exception {
        checkpoint("a", 1);
        Path b = checkpoint("b", 2);
        ModelConfigs.write(b.resolve("config.json"), new Gpt2Config(11, 8, 6, 2, 2, 1e-5, "gelu_new"));
        manifest(manifestOf(entry(1, "0.1", "a"), entry(2, "0.1", "b")));
        refused(NONE, b.resolve("config.json"), "all checkpoints of one run must share one architecture");
    }

    @Test
    void writeManifest_thenRead_sameRunAndRelativePaths() throws Exception {
        Path a = checkpoint("checkpoint-10", 1);
        Path b = checkpoint("nested/checkpoint-20", 2);
        List<RunCheckpoint> cs = List.of(
                new RunCheckpoint(20, 1e-4, b, TrainingRuns.sha256(b)),
                new RunCheckpoint(10, 2e-4, a, TrainingRuns.sha256(a)));
        TrainingRuns.writeManifest(run, cs);
        var json = Json.MAPPER.readTree(run.resolve(TrainingRuns.MANIFEST).toFile());
        assertEquals("influence-run/1", json.get("format").textValue());
        assertEquals("checkpoint-10", json.get("checkpoints").get(0).get("path").textValue());
        assertEquals("nested/checkpoint-20", json.get("checkpoints").get(1).get("path").textValue());
        assertEquals(expectedSha(b, "model.safetensors"), json.get("checkpoints").get(1).get("sha256").textValue());
        assertEquals(new TrainingRun(List.of(cs.get(1), cs.get(0))), TrainingRuns.read(run, NONE));
        try (var s = Files.list(run)) {
            assertEquals(0, s.filter(p -> p.getFileName().toString().endsWith(".tmp")).count(), "temporary file left behind");
        }
    }

    @Test
    void writeManifest_folderOutsideRun_illegalArgument() throws Exception {
        Path a = checkpoint("a", 1);
        Path other = tmp.resolve("other");
        Files.createDirectories(other);
        assertThrows(IllegalArgumentException.class,
                () -> TrainingRuns.writeManifest(other, List.of(new RunCheckpoint(1, 0.1, a, TrainingRuns.sha256(a)))));
    }

    @Test
    void writeManifest_emptyOrDuplicateSteps_illegalArgument() throws Exception {
        Path a = checkpoint("a", 1);
        String sha = TrainingRuns.sha256(a);
        assertThrows(IllegalArgumentException.class, () -> TrainingRuns.writeManifest(run, List.of()));
        assertThrows(IllegalArgumentException.class, () -> TrainingRuns.writeManifest(run,
                List.of(new RunCheckpoint(1, 0.1, a, sha), new RunCheckpoint(1, 0.2, a, sha))));
    }

    @Test
    void runCheckpoint_nonFiniteRate_illegalArgument() {
        String sha = "a".repeat(64);
        assertThrows(IllegalArgumentException.class, () -> new RunCheckpoint(1, Double.NaN, run, sha));
        assertThrows(IllegalArgumentException.class, () -> new RunCheckpoint(1, 0, run, sha));
        assertThrows(IllegalArgumentException.class, () -> new RunCheckpoint(1, 0.1, run, "xyz"));
    }

    @Test
    void sha256_shardedFolder_concatenationInNameOrder() throws Exception {
        Path dir = run.resolve("sharded");
        Files.createDirectories(dir);
        new SafetensorsWriter().put("b", new long[] {1}, new float[] {2}).write(dir.resolve("model-00002-of-00002.safetensors"));
        new SafetensorsWriter().put("a", new long[] {1}, new float[] {1}).write(dir.resolve("model-00001-of-00002.safetensors"));
        Files.writeString(dir.resolve("config.json"), "{}");
        assertEquals(expectedSha(dir, "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"),
                TrainingRuns.sha256(dir));
    }

    // ------------------------------------------------------------------ Trainer folders

    private static final String STATE = "{\"global_step\":300,\"log_history\":["
            + "{\"epoch\":0.1,\"step\":50,\"learning_rate\":5e-4,\"loss\":3.2},"
            + "{\"epoch\":0.3,\"step\":100,\"learning_rate\":4e-4,\"loss\":2.9},"
            + "{\"epoch\":0.3,\"step\":100,\"eval_loss\":3.0},"
            + "{\"epoch\":0.5,\"step\":150,\"learning_rate\":3e-4,\"loss\":2.7},"
            + "{\"epoch\":1.0,\"step\":300,\"learning_rate\":1e-4,\"loss\":2.5},"
            + "{\"epoch\":1.0,\"step\":300,\"train_runtime\":12.5,\"total_flos\":1e12}]}";

    @Test
    void read_trainerFolderStateInRun_exactAndEarlierLoggedRates() throws Exception {
        Path c100 = checkpoint("checkpoint-100", 1);
        Path c250 = checkpoint("checkpoint-250", 2);
        Path c300 = checkpoint("checkpoint-300", 3);
        Files.createDirectories(run.resolve("runs"));
        Files.writeString(run.resolve("trainer_state.json"), STATE);
        TrainingRun r = TrainingRuns.read(run, NONE);
        assertEquals(List.of(
                new RunCheckpoint(100, 4e-4, c100, expectedSha(c100, "model.safetensors")),
                new RunCheckpoint(250, 3e-4, c250, expectedSha(c250, "model.safetensors")), // none at 250: latest before, 150
                new RunCheckpoint(300, 1e-4, c300, expectedSha(c300, "model.safetensors"))), r.checkpoints());
    }

    @Test
    void read_trainerFolderStateInLastCheckpoint_used() throws Exception {
        checkpoint("checkpoint-50", 1);
        Path last = checkpoint("checkpoint-150", 2);
        Files.writeString(last.resolve("trainer_state.json"), STATE);
        TrainingRun r = TrainingRuns.read(run, NONE);
        assertEquals(5e-4, r.checkpoints().get(0).learningRate());
        assertEquals(3e-4, r.checkpoints().get(1).learningRate());
    }

    @Test
    void read_trainerFolderNoStateNoConstant_refused() throws Exception {
        checkpoint("checkpoint-50", 1);
        refused(NONE, run, "has no trainer_state.json (looked in the run folder and in checkpoint-50)");
    }

    @Test
    void read_trainerFolderNoStateWithConstant_constantUsed() throws Exception {
        checkpoint("checkpoint-50", 1);
        checkpoint("checkpoint-7", 2);
        TrainingRun r = TrainingRuns.read(run, OptionalDouble.of(2e-5));
        assertEquals(7, r.checkpoints().get(0).step());
        assertEquals(50, r.checkpoints().get(1).step());
        assertEquals(2e-5, r.checkpoints().get(1).learningRate());
    }

    @Test
    void read_trainerFolderCheckpointBeforeFirstLog_refusedNamingCheckpoint() throws Exception {
        Path c10 = checkpoint("checkpoint-10", 1);
        checkpoint("checkpoint-100", 2);
        Files.writeString(run.resolve("trainer_state.json"), STATE);
        refused(NONE, c10, "logs none at or before step 10");
    }

    @Test
    void read_trainerFolderZeroLoggedRate_refused() throws Exception {
        checkpoint("checkpoint-100", 1);
        Files.writeString(run.resolve("trainer_state.json"), "{\"log_history\":[{\"step\":100,\"learning_rate\":0.0}]}");
        refused(NONE, run.resolve("trainer_state.json"), "log_history step 100 (used for checkpoint-100) has learning rate 0.0");
    }

    @Test
    void read_trainerFolderDuplicateSteps_refused() throws Exception {
        checkpoint("checkpoint-100", 1);
        checkpoint("checkpoint-0100", 2);
        refused(OptionalDouble.of(1e-3), run, "has two folders for step 100");
    }

    @Test
    void read_emptyRunFolder_refused() throws Exception {
        Files.createDirectories(run.resolve("logs"));
        refused(OptionalDouble.of(1e-3), run, "holds neither influence-run.json nor any checkpoint-N folder");
    }

    @Test
    void read_trainerStateLogHistoryNotArray_refused() throws Exception {
        checkpoint("checkpoint-100", 1);
        Files.writeString(run.resolve("trainer_state.json"), "{\"log_history\":{}}");
        refused(NONE, run.resolve("trainer_state.json"), "\"log_history\" must be an array but is an object");
    }

    @Test
    void read_trainerStateStepNotInteger_refused() throws Exception {
        checkpoint("checkpoint-100", 1);
        Files.writeString(run.resolve("trainer_state.json"), "{\"log_history\":[{\"step\":\"100\",\"learning_rate\":0.1}]}");
        refused(NONE, run.resolve("trainer_state.json"), "log_history[0].step must be a non-negative integer");
    }

    @Test
    void read_trainerStateRateNotNumber_refused() throws Exception {
        checkpoint("checkpoint-100", 1);
        Files.writeString(run.resolve("trainer_state.json"), "{\"log_history\":[{\"step\":100,\"learning_rate\":null}]}");
        refused(NONE, run.resolve("trainer_state.json"), "log_history[0].learning_rate must be a number but is null");
    }

    @Test
    void read_trainerStateInvalidJson_refused() throws Exception {
        checkpoint("checkpoint-100", 1);
        Files.writeString(run.resolve("trainer_state.json"), "{\"log_history\":[");
        refused(NONE, run.resolve("trainer_state.json"), "not valid JSON");
    }

    @Test
    void read_trainerCheckpointInvalid_refusedNamingIt() throws Exception {
        Path c = checkpoint("checkpoint-100", 1);
        Files.write(c.resolve("model.safetensors"), new byte[] {1});
        refused(OptionalDouble.of(1e-3), c.resolve("model.safetensors"), "shorter than the 8-byte header length");
    }

    @Test
    void read_runFolderMissing_refused() {
        Path missing = tmp.resolve("nope");
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> TrainingRuns.read(missing, NONE));
        assertEquals(missing, e.file());
    }

    @Test
    void read_invalidConstantRate_illegalArgument() {
        assertThrows(IllegalArgumentException.class, () -> TrainingRuns.read(run, OptionalDouble.of(-1)));
        assertThrows(IllegalArgumentException.class, () -> TrainingRuns.read(run, OptionalDouble.of(Double.POSITIVE_INFINITY)));
    }
}
