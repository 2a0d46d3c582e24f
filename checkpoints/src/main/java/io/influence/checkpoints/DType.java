package io.influence.checkpoints;

/**
 * Element types of a safetensors tensor, named as in the safetensors header. All are stored
 * little-endian. F16 is IEEE 754 binary16; BF16 is the upper 16 bits of a binary32.
 */
public enum DType {
    F32(4), F16(2), BF16(2), F64(8), I64(8), I32(4);

    private final int byteSize;

    DType(int byteSize) {
        this.byteSize = byteSize;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** True for F32, F16, BF16 and F64. */
    public boolean isFloatingPoint() {
        return this != I64 && this != I32;
    }
}
