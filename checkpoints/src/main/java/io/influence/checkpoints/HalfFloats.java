package io.influence.checkpoints;

/**
 * Conversions between float32 and the two 16-bit float formats (Java 17 has no
 * {@code Float.float16ToFloat}).
 *
 * <pre>
 * F16  (IEEE 754 binary16): sign 1 | exponent 5 (bias 15) | mantissa 10; exponent 0 = subnormal (m * 2^-24)
 * BF16 (bfloat16):          sign 1 | exponent 8 (bias 127) | mantissa 7  = the upper half of a binary32
 * </pre>
 * Widening to float32 is exact. Narrowing rounds to nearest, ties to even, like numpy's
 * {@code astype(np.float16)} and PyTorch's {@code to(torch.bfloat16)}; NaN stays NaN.
 */
final class HalfFloats {
    private HalfFloats() {
    }

    static float f16ToFloat(int h) {
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1f;
        int mant = h & 0x3ff;
        if (exp == 0) {
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        if (exp == 31) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }

    static short floatToF16(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int exp = (bits >>> 23) & 0xff;
        int mant = bits & 0x7fffff;
        if (exp == 0xff) {
            return (short) (sign | 0x7c00 | (mant != 0 ? 0x200 : 0));
        }
        int e = exp - 127 + 15;
        if (e >= 31) {
            return (short) (sign | 0x7c00);
        }
        if (e <= 0) {
            // subnormal or zero in binary16: value = full * 2^(exp-150) = m * 2^-24  =>  m = full >> (126 - exp)
            // (float32 subnormals, exp == 0, are far below half the smallest binary16 subnormal)
            int full = mant | 0x800000;
            int shift = 126 - exp;
            if (exp == 0 || shift >= 32) {
                return (short) sign;
            }
            return (short) (sign | roundShift(full, shift));
        }
        int m = roundShift(mant, 13);
        // a carry out of the mantissa correctly bumps the exponent (up to infinity)
        return (short) (sign | ((e << 10) + m));
    }

    private static int roundShift(int value, int shift) {
        int m = value >>> shift;
        int rem = value & ((1 << shift) - 1);
        int half = 1 << (shift - 1);
        if (rem > half || (rem == half && (m & 1) == 1)) {
            m++;
        }
        return m;
    }

    static float bf16ToFloat(int b) {
        return Float.intBitsToFloat((b & 0xffff) << 16);
    }

    static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((bits >>> 16) | 0x40);
        }
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }
}
