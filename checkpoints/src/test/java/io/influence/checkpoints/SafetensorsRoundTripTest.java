package io.influence.checkpoints;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Writer and reader against each other and against bytes laid out by hand from the spec
 * (little-endian u64 header length, JSON header, raw little-endian data).
 */
class SafetensorsRoundTripTest {
    @TempDir
    Path tmp;

    @Test
    void writeThenRead_allDtypes_valuesAndShapesIdentical() throws Exception {
        Random r = new Random(7);
        float[] f32 = new float[12];
        double[] f64 = new double[5];
        long[] i64 = {Long.MIN_VALUE, -1, 0, 1, Long.MAX_VALUE, 42};
        int[] i32 = {Integer.MIN_VALUE, -3, 0, 7, Integer.MAX_VALUE, 9};
        for (int i = 0; i < f32.length; i++) {
            f32[i] = (float) r.nextGaussian();
        }
        for (int i = 0; i < f64.length; i++) {
            f64[i] = r.nextGaussian();
        }
        Path file = tmp.resolve("t.safetensors");
        new SafetensorsWriter().metadata("format", "pt")
                .put("b.f32", new long[] {3, 4}, f32)
                .put("a.f64", new long[] {5}, f64)
                .put("c.i64", new long[] {2, 3}, i64)
                .put("d.i32", new long[] {6}, i32)
                .put("e.scalar", new long[] {}, new float[] {2.5f})
                .put("f.empty", new long[] {0, 3}, new float[0])
                .write(file);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(Map.of("format", "pt"), f.metadata());
            assertEquals(List.of("a.f64", "b.f32", "c.i64", "d.i32", "e.scalar", "f.empty"), f.names());
            assertArrayEquals(f32, f.readFloats("b.f32"));
            assertArrayEquals(f64, f.readDoubles("a.f64"));
            assertArrayEquals(i64, f.readLongs("c.i64"));
            long[] i32AsLong = new long[i32.length];
            for (int i = 0; i < i32.length; i++) {
                i32AsLong[i] = i32[i];
            }
            assertArrayEquals(i32AsLong, f.readLongs("d.i32"));
            assertArrayEquals(new float[] {2.5f}, f.readFloats("e.scalar"));
            assertEquals(0, f.readFloats("f.empty").length);
            assertArrayEquals(new long[] {3, 4}, f.info("b.f32").shape());
            assertEquals(DType.F32, f.info("b.f32").dtype());
            assertEquals(12, f.info("b.f32").numel());
            // sorted order: a.f64 first at offset 0
            assertEquals(0, f.info("a.f64").begin());
            assertEquals(40, f.info("b.f32").begin());
        }
        // header padded to a multiple of 8 with spaces
        byte[] bytes = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8);
        String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
        assertTrue(header.startsWith("{"), header);
        assertEquals(header.strip(), header.stripLeading().stripTrailing());
    }

    @Test
    void read_handBuiltSpecBytes_matchesValues() throws Exception {
        String header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[8,12]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[12,14]}}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buf = ByteBuffer.allocate(8 + h.length + 14).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(h.length).put(h).putFloat(1.5f).putFloat(-0.25f);
        buf.putShort((short) 0x3C00); // F16 1.0
        buf.putShort((short) 0xC000); // F16 -2.0
        buf.putShort((short) 0x4049); // BF16 3.140625
        Path file = tmp.resolve("hand.safetensors");
        Files.write(file, buf.array());
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertArrayEquals(new float[] {1.5f, -0.25f}, f.readFloats("w"));
            assertArrayEquals(new float[] {1.0f, -2.0f}, f.readFloats("h"));
            assertArrayEquals(new double[] {3.140625}, f.readDoubles("b"));
        }
    }

    @Test
    void read_unknownName_errorListsAvailableNames() throws Exception {
        Path file = tmp.resolve("t.safetensors");
        new SafetensorsWriter().put("transformer.wte.weight", new long[] {1}, new float[] {1}).write(file);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> f.readFloats("wte.weight"));
            assertEquals("wte.weight", e.tensor());
            assertEquals(file, e.file());
            assertTrue(e.getMessage().contains("transformer.wte.weight"), e.getMessage());
            assertTrue(e.getMessage().contains("HINT"), e.getMessage());
        }
    }

    @Test
    void read_tinyMapWindowsAndUnalignedOffsets_valuesIdentical() throws Exception {
        Random r = new Random(3);
        float[] f32 = new float[37];
        double[] f64 = new double[11];
        float[] half = new float[3];
        for (int i = 0; i < f32.length; i++) {
            f32[i] = (float) r.nextGaussian();
        }
        for (int i = 0; i < f64.length; i++) {
            f64[i] = r.nextGaussian();
        }
        for (int i = 0; i < half.length; i++) {
            half[i] = 0.25f * (i + 1); // exact in F16 and BF16
        }
        long[] i64 = {5, -6, 7};
        int[] i32 = {1, -2, 3, -4, 5};
        Path file = tmp.resolve("unaligned.safetensors");
        // sorted names give offsets: a(F16,6 bytes) b(F32 at 6) c(BF16) d(F64 unaligned) e(I32) f(I64)
        new SafetensorsWriter().put("a", DType.F16, new long[] {3}, half).put("b", new long[] {37}, f32)
                .put("c", DType.BF16, new long[] {3}, half).put("d", new long[] {11}, f64)
                .put("e", new long[] {5}, i32).put("f", new long[] {3}, i64).write(file);
        long[] i32AsLong = {1, -2, 3, -4, 5};
        for (long[] sizes : new long[][] {{16, 8}, {64, 24}, {1, 8}, {SafetensorsFile.HALF_WINDOW_BYTES, SafetensorsFile.WINDOW_BYTES}}) {
            try (SafetensorsFile f = SafetensorsFile.open(file, sizes[0], (int) sizes[1])) {
                assertEquals(6, f.info("b").begin());
                assertArrayEquals(half, f.readFloats("a"));
                assertArrayEquals(f32, f.readFloats("b"));
                assertArrayEquals(half, f.readFloats("c"));
                assertArrayEquals(f64, f.readDoubles("d"));
                assertArrayEquals(i32AsLong, f.readLongs("e"));
                assertArrayEquals(i64, f.readLongs("f"));
            }
        }
    }

    @Test
    void read_tensorBeyondTwoGiBInSparseFile_valuesCorrect() throws Exception {
        long bigBytes = 5L << 29; // 2.5 GiB of F32, never read
        String header = "{\"big\":{\"dtype\":\"F32\",\"shape\":[" + bigBytes / 4 + "],\"data_offsets\":[0," + bigBytes + "]},"
                + "\"tail\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[" + bigBytes + "," + (bigBytes + 16) + "]}}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        Path file = tmp.resolve("sparse.safetensors");
        try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
            raf.write(h);
            raf.seek(8 + h.length + bigBytes);
            raf.write(ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).putFloat(-2f).putFloat(3.25f)
                    .putFloat(1e-7f).array());
        }
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(bigBytes, f.info("tail").begin());
            assertArrayEquals(new float[] {1.5f, -2f, 3.25f, 1e-7f}, f.readFloats("tail"));
            assertArrayEquals(new double[] {1.5, -2, 3.25, 1e-7f}, f.readDoubles("tail"));
        }
    }

    @Test
    void put_badArguments_illegalArgument() {
        SafetensorsWriter w = new SafetensorsWriter().put("a", new long[] {1}, new float[] {1});
        assertThrows(IllegalArgumentException.class, () -> w.put("a", new long[] {1}, new float[] {1}));
        assertThrows(IllegalArgumentException.class, () -> w.put("b", new long[] {2}, new float[] {1}));
        assertThrows(IllegalArgumentException.class, () -> w.put("c", new long[] {-1}, new float[0]));
        assertThrows(IllegalArgumentException.class, () -> w.put("__metadata__", new long[] {1}, new float[] {1}));
        assertThrows(IllegalArgumentException.class, () -> w.put("d", new long[] {1}, new float[] {Float.NaN}));
        assertThrows(IllegalArgumentException.class, () -> w.put("e", new long[] {1}, new double[] {Double.NEGATIVE_INFINITY}));
        assertThrows(IllegalArgumentException.class, () -> w.put("f", DType.F16, new long[] {1}, new float[] {70000f}));
        assertThrows(IllegalArgumentException.class, () -> w.put("g", DType.I32, new long[] {1}, new float[] {1}));
    }

    @Test
    void write_existingTarget_replacedAtomicallyWithoutTemporaryFiles() throws Exception {
        Path file = tmp.resolve("m.safetensors");
        new SafetensorsWriter().put("old", new long[] {1}, new float[] {1}).write(file);
        new SafetensorsWriter().put("new", new long[] {1}, new float[] {2}).write(file);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(List.of("new"), f.names());
        }
        try (var s = Files.list(tmp)) {
            assertEquals(List.of(file), s.toList());
        }
    }
}
