package io.influence.checkpoints;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Mutation fuzzing of every parser in the module (after Caffeine's CaffeineSpecFuzzer): valid
 * inputs are mutated at random with a fixed seed, and only CheckpointFormatException may escape.
 * Any other Throwable fails with the case number and the seed, so a failure can be replayed.
 * Memory used after GC must stay within a small bound: a forged length must never be allocated.
 */
class SafetensorsFuzzTest {
    private static final long SEED = 20261124L;
    private static final int SAFETENSORS_CASES = 4000;
    private static final int JSON_CASES = 1500;
    /** Allowed growth of used heap (after GC) over the run. */
    private static final long MEMORY_BOUND_BYTES = 64L << 20;

    @TempDir
    Path tmp;

    private static final String[] TOKENS = {"{", "}", "[", "]", ",", ":", "\"", "-", ".", "e", "0", "9", "99999999999999999999",
        "-1", "1e400", "null", "true", "\"F16\"", "\"BF16\"", "\"I32\"", "\"__metadata__\"", "\\u0000", "\"dtype\"", "[]", "{}"};

    private List<byte[]> seeds() throws Exception {
        List<byte[]> seeds = new ArrayList<>();
        Path a = tmp.resolve("seed-a.safetensors");
        new SafetensorsWriter().metadata("format", "pt").metadata("note", "fuzz seed")
                .put("w", new long[] {3, 4}, new float[12])
                .put("h", DType.F16, new long[] {5}, new float[] {1, 2, 3, 4, 5})
                .put("b", DType.BF16, new long[] {2, 1}, new float[] {-1, 0.5f})
                .put("d", new long[] {2}, new double[] {1e-3, 7})
                .put("i", new long[] {3}, new long[] {1, 2, 3})
                .put("j", new long[] {2}, new int[] {4, 5})
                .put("s", new long[] {}, new float[] {9})
                .put("z", new long[] {0}, new float[0])
                .write(a);
        seeds.add(Files.readAllBytes(a));
        seeds.add(Files.readAllBytes(ReferencePython.fixture("gpt2-tiny/model.safetensors")));
        return seeds;
    }

    private static long usedAfterGc() {
        Runtime rt = Runtime.getRuntime();
        for (int i = 0; i < 2; i++) {
            System.gc();
        }
        return rt.totalMemory() - rt.freeMemory();
    }

    static int headerLength(byte[] file) {
        if (file.length < 8) {
            return 0;
        }
        long n = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        return n < 0 || n > file.length - 8 ? 0 : (int) n;
    }

    static byte[] mutate(byte[] seed, Random r) {
        byte[] b = seed.clone();
        int n = headerLength(b);
        switch (r.nextInt(7)) {
            case 0 -> { // bit flips, mostly in the length field and the header
                int flips = 1 + r.nextInt(8);
                for (int i = 0; i < flips; i++) {
                    int pos = r.nextBoolean() ? r.nextInt(Math.min(b.length, 8 + n)) : r.nextInt(b.length);
                    b[pos] ^= (byte) (1 << r.nextInt(8));
                }
            }
            case 1 -> { // random byte overwrites
                int count = 1 + r.nextInt(16);
                for (int i = 0; i < count; i++) {
                    b[r.nextInt(b.length)] = (byte) r.nextInt(256);
                }
            }
            case 2 -> b = Arrays.copyOf(b, r.nextInt(b.length)); // truncation
            case 3 -> { // forged header length
                long forged = switch (r.nextInt(5)) {
                    case 0 -> r.nextLong();
                    case 1 -> n + r.nextInt(64) - 32;
                    case 2 -> Long.MAX_VALUE - r.nextInt(1000);
                    case 3 -> (1L << 31) + r.nextInt(1000) - 500;
                    default -> b.length - 8 + r.nextInt(8) - 4;
                };
                ByteBuffer.wrap(b, 0, 8).order(ByteOrder.LITTLE_ENDIAN).putLong(forged);
            }
            case 4, 5 -> b = editJson(b, n, r);
            default -> { // appended or removed data bytes
                b = r.nextBoolean() ? Arrays.copyOf(b, b.length + 1 + r.nextInt(64))
                        : Arrays.copyOf(b, Math.max(0, b.length - 1 - r.nextInt(16)));
            }
        }
        return b;
    }

    /** Edits the JSON header text and rewrites the length field (sometimes keeping the old one). */
    private static byte[] editJson(byte[] b, int n, Random r) {
        String h = new String(b, 8, n, StandardCharsets.UTF_8);
        StringBuilder s = new StringBuilder(h);
        int edits = 1 + r.nextInt(3);
        for (int i = 0; i < edits && s.length() > 0; i++) {
            int pos = r.nextInt(s.length());
            switch (r.nextInt(5)) {
                case 0 -> s.deleteCharAt(pos);
                case 1 -> s.insert(pos, TOKENS[r.nextInt(TOKENS.length)]);
                case 2 -> { // change a digit
                    int d = indexOfDigit(s, pos);
                    if (d >= 0) {
                        s.setCharAt(d, (char) ('0' + r.nextInt(10)));
                    }
                }
                case 3 -> { // duplicate a span (often produces duplicate keys)
                    int end = Math.min(s.length(), pos + 1 + r.nextInt(80));
                    s.insert(end, s.substring(pos, end));
                }
                default -> s.replace(pos, Math.min(s.length(), pos + 1 + r.nextInt(4)), TOKENS[r.nextInt(TOKENS.length)]);
            }
        }
        byte[] header = s.toString().getBytes(StandardCharsets.UTF_8);
        byte[] data = Arrays.copyOfRange(b, 8 + n, b.length);
        long length = r.nextInt(4) == 0 ? n : header.length;
        return SafetensorsMalformedTest.raw(length, header, data);
    }

    private static int indexOfDigit(CharSequence s, int from) {
        for (int i = 0; i < s.length(); i++) {
            int j = (from + i) % s.length();
            if (Character.isDigit(s.charAt(j))) {
                return j;
            }
        }
        return -1;
    }

    private int fullyRead;

    /** Opens and reads everything, then asks for a missing tensor (which must throw). */
    private void exercise(Path p) throws CheckpointFormatException {
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            f.metadata().forEach((k, v) -> {
                if (k == null || v == null) {
                    throw new AssertionError("null metadata entry");
                }
            });
            for (String name : f.names()) {
                TensorInfo t = f.info(name);
                if (t.dtype().isFloatingPoint()) {
                    f.readFloats(name);
                    f.readDoubles(name);
                } else {
                    f.readLongs(name);
                }
            }
            fullyRead++;
            f.readFloats("no such tensor " + p);
        }
    }

    @Test
    void open_mutatedSafetensors_onlyCheckpointFormatExceptionEscapes() throws Exception {
        List<byte[]> seeds = seeds();
        Random r = new Random(SEED);
        Path p = tmp.resolve("fuzz.safetensors");
        long before = usedAfterGc();
        int refused = 0;
        for (int c = 0; c < SAFETENSORS_CASES; c++) {
            byte[] bytes = mutate(seeds.get(c % seeds.size()), r);
            Files.write(p, bytes);
            try {
                exercise(p);
                fail("case " + c + " (seed " + SEED + "): reading a tensor that does not exist did not throw");
            } catch (CheckpointFormatException expected) {
                refused++;
                assertTrue(expected.getMessage().contains("HINT: "), "case " + c + ": " + expected.getMessage());
            } catch (Throwable t) {
                throw new AssertionError("case " + c + " (seed " + SEED + "): " + t + " escaped; only "
                        + "CheckpointFormatException may", t);
            }
            if (c % 1000 == 999) {
                long used = usedAfterGc();
                assertTrue(used - before < MEMORY_BOUND_BYTES, "case " + c + ": used heap grew by " + (used - before) + " bytes");
            }
        }
        assertEquals(SAFETENSORS_CASES, refused);
        // the mutations must reach both outcomes: refused at open and accepted-then-fully-read
        assertTrue(fullyRead > 0 && fullyRead < SAFETENSORS_CASES, "fully read " + fullyRead + " of " + SAFETENSORS_CASES);
    }

    @Test
    void read_mutatedConfigIndexAndManifest_onlyCheckpointFormatExceptionEscapes() throws Exception {
        Path run = tmp.resolve("run");
        Path ckpt = CheckpointTest.gpt2Folder(run.resolve("checkpoint-5"));
        String index = "{\"metadata\":{\"total_size\":36},\"weight_map\":{\"transformer.wte.weight\":\"model.safetensors\","
                + "\"transformer.ln_f.bias\":\"model.safetensors\"}}";
        String config = Files.readString(ckpt.resolve("config.json"));
        String manifest = "{\"format\":\"influence-run/1\",\"checkpoints\":[{\"step\":5,\"learning_rate\":0.001,"
                + "\"path\":\"checkpoint-5\",\"sha256\":\"" + TrainingRuns.sha256(ckpt) + "\"}]}";
        String state = "{\"log_history\":[{\"step\":5,\"learning_rate\":0.001,\"loss\":2.0},{\"step\":5,\"eval_loss\":1.0}]}";
        Random r = new Random(SEED + 1);
        long before = usedAfterGc();
        int accepted = 0;
        for (int c = 0; c < JSON_CASES; c++) {
            int target = c % 4;
            String base = switch (target) {
                case 0 -> config;
                case 1 -> index;
                case 2 -> manifest;
                default -> state;
            };
            byte[] mutated = mutateText(base, r);
            try {
                switch (target) {
                    case 0 -> {
                        Files.write(ckpt.resolve("config.json"), mutated);
                        ModelConfigs.read(ckpt.resolve("config.json"));
                    }
                    case 1 -> {
                        Path sharded = tmp.resolve("sharded");
                        Files.createDirectories(sharded);
                        Files.copy(ckpt.resolve("model.safetensors"), sharded.resolve("model.safetensors"),
                                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                        Files.writeString(sharded.resolve("config.json"), config);
                        Files.write(sharded.resolve("model.safetensors.index.json"), mutated);
                        // the index is only used when there is no single file
                        Files.move(sharded.resolve("model.safetensors"), sharded.resolve("model-00001-of-00001.safetensors"),
                                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                        Files.write(sharded.resolve("model.safetensors.index.json"),
                                new String(mutated, StandardCharsets.UTF_8).replace("model.safetensors\"",
                                        "model-00001-of-00001.safetensors\"").getBytes(StandardCharsets.UTF_8));
                        Checkpoint.open(sharded).close();
                    }
                    case 2 -> {
                        Files.write(run.resolve(TrainingRuns.MANIFEST), mutated);
                        TrainingRuns.read(run, java.util.OptionalDouble.empty());
                    }
                    default -> {
                        Files.deleteIfExists(run.resolve(TrainingRuns.MANIFEST));
                        Files.write(run.resolve("trainer_state.json"), mutated);
                        TrainingRuns.read(run, java.util.OptionalDouble.empty());
                    }
                }
                accepted++;
            } catch (CheckpointFormatException expected) {
                assertTrue(expected.getMessage().contains("HINT: "), "case " + c + ": " + expected.getMessage());
            } catch (Throwable t) {
                throw new AssertionError("case " + c + " (seed " + (SEED + 1) + ", target " + target + "): " + t
                        + " escaped; only CheckpointFormatException may", t);
            } finally {
                Files.writeString(ckpt.resolve("config.json"), config);
            }
        }
        assertTrue(accepted < JSON_CASES, "every mutation was accepted: the mutator does nothing");
        assertTrue(usedAfterGc() - before < MEMORY_BOUND_BYTES);
    }

    private static byte[] mutateText(String base, Random r) {
        byte[] b = base.getBytes(StandardCharsets.UTF_8);
        if (r.nextInt(5) == 0) { // raw byte damage
            for (int i = 0; i < 1 + r.nextInt(4); i++) {
                b[r.nextInt(b.length)] = (byte) r.nextInt(256);
            }
            return b;
        }
        byte[] wrapped = SafetensorsMalformedTest.raw(b.length, b, new byte[0]);
        byte[] edited = editJson(wrapped, b.length, r);
        return Arrays.copyOfRange(edited, 8, edited.length);
    }
}
