package io.influence.checkpoints;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * F16/BF16 conversions checked exhaustively over all 65536 bit patterns: widening then narrowing
 * is the identity, and narrowing rounds to nearest with ties to even, checked at every midpoint
 * between neighbouring values (the midpoints are exact in float32). numpy/torch agreement is in
 * SafetensorsCrossCheckTest.
 */
class HalfFloatsTest {
    @TempDir
    Path tmp;

    @Test
    void f16_allBitPatterns_roundTripExactly() {
        for (int h = 0; h < 0x10000; h++) {
            float f = HalfFloats.f16ToFloat(h);
            short back = HalfFloats.floatToF16(f);
            if (Float.isNaN(f)) {
                assertTrue(Float.isNaN(HalfFloats.f16ToFloat(back)), "NaN pattern " + Integer.toHexString(h));
            } else if ((back & 0xffff) != h) {
                fail("F16 " + Integer.toHexString(h) + " -> " + f + " -> " + Integer.toHexString(back & 0xffff));
            }
        }
    }

    @Test
    void bf16_allBitPatterns_roundTripExactly() {
        for (int h = 0; h < 0x10000; h++) {
            float f = HalfFloats.bf16ToFloat(h);
            short back = HalfFloats.floatToBf16(f);
            if (Float.isNaN(f)) {
                assertTrue(Float.isNaN(HalfFloats.bf16ToFloat(back)), "NaN pattern " + Integer.toHexString(h));
            } else if ((back & 0xffff) != h) {
                fail("BF16 " + Integer.toHexString(h) + " -> " + f + " -> " + Integer.toHexString(back & 0xffff));
            }
        }
    }

    @Test
    void f16_midpointsBetweenNeighbours_roundToNearestTiesToEven() {
        for (int sign = 0; sign <= 0x8000; sign += 0x8000) {
            for (int h = 0; h < 0x7bff; h++) { // finite neighbours, up to 65504 (0x7bff)
                float a = HalfFloats.f16ToFloat(sign | h);
                float b = HalfFloats.f16ToFloat(sign | (h + 1));
                float mid = (float) (((double) a + b) / 2);
                int even = (h & 1) == 0 ? h : h + 1;
                assertEquals(sign | even, HalfFloats.floatToF16(mid) & 0xffff, "tie between " + a + " and " + b);
                float below = sign == 0 ? Math.nextDown(mid) : Math.nextUp(mid);
                float above = sign == 0 ? Math.nextUp(mid) : Math.nextDown(mid);
                assertEquals(sign | h, HalfFloats.floatToF16(below) & 0xffff, "just nearer " + a);
                assertEquals(sign | (h + 1), HalfFloats.floatToF16(above) & 0xffff, "just nearer " + b);
            }
        }
    }

    @Test
    void f16_beyondLargestFinite_overflowsAtIeeeThreshold() {
        // 65520 lies halfway between 65504 and 65536 (the next step): ties go to "even", i.e. infinity
        assertEquals(0x7bff, HalfFloats.floatToF16(Math.nextDown(65520f)) & 0xffff);
        assertEquals(0x7c00, HalfFloats.floatToF16(65520f) & 0xffff);
        assertEquals(0xfc00, HalfFloats.floatToF16(-1e9f) & 0xffff);
    }

    @Test
    void bf16_midpointsBetweenNeighbours_roundToNearestTiesToEven() {
        for (int h = 0; h < 0x7f80; h++) {
            float a = HalfFloats.bf16ToFloat(h);
            float b = HalfFloats.bf16ToFloat(h + 1);
            float mid = Float.intBitsToFloat((Float.floatToRawIntBits(a) + Float.floatToRawIntBits(b)) >>> 1);
            int even = (h & 1) == 0 ? h : h + 1;
            assertEquals(even, HalfFloats.floatToBf16(mid) & 0xffff, "tie between " + a + " and " + b);
            assertEquals(h, HalfFloats.floatToBf16(Math.nextDown(mid)) & 0xffff);
            assertEquals(h + 1, HalfFloats.floatToBf16(Math.nextUp(mid)) & 0xffff);
        }
    }

    @Test
    void put_floatArrayAsF64_widenedExactly() throws Exception {
        float[] v = {1.1f, -3e-8f, 65504.5f};
        Path file = tmp.resolve("w.safetensors");
        new SafetensorsWriter().put("x", DType.F64, new long[] {3}, v).write(file);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(DType.F64, f.info("x").dtype());
            assertArrayEquals(new double[] {1.1f, -3e-8f, 65504.5f}, f.readDoubles("x"));
            assertArrayEquals(v, f.readFloats("x"));
        }
    }
}
