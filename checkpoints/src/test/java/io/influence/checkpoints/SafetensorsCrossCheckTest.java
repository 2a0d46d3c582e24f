package io.influence.checkpoints;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Iterator;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Cross-implementation checks: files written by the PyTorch reference (committed fixture) and by
 * numpy/torch at test time are read by our reader; files written by our writer are read by the
 * reference's read_safetensors. Values must be bit-identical (exact comparison: float32 values
 * survive the JSON round trip as Python floats exactly), so there is no tolerance here.
 */
class SafetensorsCrossCheckTest {
    @TempDir
    Path tmp;

    private static void assertSameValues(String what, double[] expected, double[] actual) {
        assertEquals(expected.length, actual.length, what + ": element count");
        for (int i = 0; i < expected.length; i++) {
            if (Double.doubleToLongBits(expected[i]) != Double.doubleToLongBits(actual[i])) {
                fail(what + ": element " + i + " expected " + expected[i] + " but was " + actual[i]);
            }
        }
    }

    private static double[] widen(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    @Test
    void open_referenceFixture_everyTensorEqualsReferenceReader() throws Exception {
        Path dir = ReferencePython.fixture("gpt2-tiny");
        Path dump = tmp.resolve("dump.json");
        ReferencePython.run("dump", ReferencePython.referenceScript().toString(), dir.resolve("model.safetensors").toString(),
                dump.toString());
        JsonNode ref = ReferencePython.readJson(dump);
        try (Checkpoint c = Checkpoint.open(dir)) {
            Set<String> refNames = new TreeSet<>();
            ref.fieldNames().forEachRemaining(refNames::add);
            assertEquals(refNames, c.tensorNames());
            assertEquals(new Gpt2Config(101, 16, 24, 2, 3, 1e-5, "gelu_new"), c.config());
            for (String name : refNames) {
                JsonNode t = ref.get(name);
                assertEquals("float32", t.get("dtype").textValue(), name);
                assertArrayEquals(ReferencePython.shape(t), c.info(name).shape(), name);
                assertSameValues(name, ReferencePython.values(t), widen(c.readFloats(name)));
                assertSameValues(name + " (as double)", ReferencePython.values(t), c.readDoubles(name));
            }
        }
    }

    @Test
    void open_referenceFixture_matchesCommittedNumpyDump() throws Exception {
        JsonNode dump = ReferencePython.readJson(ReferencePython.fixture("gpt2-tiny-values.json"));
        try (Checkpoint c = Checkpoint.open(ReferencePython.fixture("gpt2-tiny"))) {
            Iterator<String> it = dump.fieldNames();
            int n = 0;
            while (it.hasNext()) {
                String name = it.next();
                assertArrayEquals(ReferencePython.shape(dump.get(name)), c.info(name).shape(), name);
                assertSameValues(name, ReferencePython.values(dump.get(name)), widen(c.readFloats(name)));
                n++;
            }
            assertEquals(3, n);
        }
    }

    @Test
    void write_allDtypes_referenceReaderSeesSameValuesAndRounding() throws Exception {
        Random r = new Random(11);
        float[] src = new float[40];
        for (int i = 0; i < src.length; i++) {
            src[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(9) - 4));
        }
        src[0] = 65504f;
        src[1] = -0.0f;
        src[2] = 1.0009765625f + 0x1p-11f; // a binary16 tie: rounds to even
        src[3] = 5.9604645e-8f; // smallest F16 subnormal
        src[4] = 2.9802322e-8f; // half of it: ties to even (zero)
        src[5] = 1e30f; // fine for BF16 (not written as F16 below)
        float[] f16src = src.clone();
        f16src[5] = 1f;
        double[] f64 = new double[7];
        for (int i = 0; i < f64.length; i++) {
            f64[i] = r.nextGaussian() * 1e100;
        }
        Path file = tmp.resolve("java.safetensors");
        new SafetensorsWriter().metadata("format", "pt")
                .put("src", new long[] {5, 8}, src)
                .put("src16", new long[] {5, 8}, f16src)
                .put("half", DType.F16, new long[] {5, 8}, f16src)
                .put("brain", DType.BF16, new long[] {40}, src)
                .put("dbl", new long[] {7}, f64)
                .put("i64", new long[] {3}, new long[] {Long.MIN_VALUE, 0, 1L << 53})
                .put("i32", new long[] {1, 3}, new int[] {Integer.MIN_VALUE, -7, Integer.MAX_VALUE})
                .write(file);
        Path dump = tmp.resolve("dump.json");
        ReferencePython.run("dump", ReferencePython.referenceScript().toString(), file.toString(), dump.toString(),
                "--round", "src", "--round", "src16");
        JsonNode ref = ReferencePython.readJson(dump);
        assertSameValues("src", widen(src), ReferencePython.values(ref.get("src")));
        assertSameValues("dbl", f64, ReferencePython.values(ref.get("dbl")));
        assertArrayEquals(new long[] {5, 8}, ReferencePython.shape(ref.get("half")));
        // our F16/BF16 rounding equals numpy's / torch's
        assertSameValues("half vs numpy float16", ReferencePython.values(ref.get("src16@f16")),
                ReferencePython.values(ref.get("half")));
        assertSameValues("brain vs torch bfloat16", ReferencePython.values(ref.get("src@bf16")),
                ReferencePython.values(ref.get("brain")));
        JsonNode i64 = ref.get("i64").get("values");
        assertEquals(Long.MIN_VALUE, i64.get(0).longValue());
        assertEquals(1L << 53, i64.get(2).longValue());
        JsonNode i32 = ref.get("i32").get("values");
        assertEquals(Integer.MIN_VALUE, i32.get(0).intValue());
        assertEquals(Integer.MAX_VALUE, i32.get(2).intValue());
        // and our reader widens them back to the same values
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertSameValues("half read back", ReferencePython.values(ref.get("half")), widen(f.readFloats("half")));
            assertSameValues("brain read back", ReferencePython.values(ref.get("brain")), widen(f.readFloats("brain")));
        }
    }

    @Test
    void read_halfPrecisionWrittenByNumpyAndTorch_widenedValuesExact() throws Exception {
        Path file = tmp.resolve("half.safetensors");
        Path expected = tmp.resolve("half.json");
        ReferencePython.run("write-half", file.toString(), expected.toString());
        JsonNode ref = ReferencePython.readJson(expected);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(DType.F16, f.info("half").dtype());
            assertEquals(DType.BF16, f.info("brain").dtype());
            assertSameValues("F16", ReferencePython.values(ref.get("half")), widen(f.readFloats("half")));
            assertSameValues("BF16", ReferencePython.values(ref.get("brain")), widen(f.readFloats("brain")));
            assertSameValues("BF16 as double", ReferencePython.values(ref.get("brain")), f.readDoubles("brain"));
        }
    }
}
