package io.influence.checkpoints;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Builds a safetensors file (layout in {@link SafetensorsFile}). Tensors are written in sorted
 * name order, back to back from offset 0; the JSON header is padded with spaces to a multiple of
 * 8 bytes so the data area is 8-byte aligned. {@link #write} writes a temporary file in the
 * target folder and renames it over the target, so readers never see a half-written file.
 *
 * <p>The arrays passed to {@code put} are not copied; they are read when {@link #write} runs,
 * so do not change them in between. Non-finite values are refused (IllegalArgumentException),
 * as are values that overflow F16 (|x| &gt; 65504 after rounding).
 */
public final class SafetensorsWriter {
    private static final int CHUNK_BYTES = 1 << 20;

    private record Entry(DType dtype, long[] shape, Object data, int length) {
    }

    private final Map<String, String> metadata = new LinkedHashMap<>();
    private final Map<String, Entry> entries = new TreeMap<>();

    public SafetensorsWriter() {
    }

    /** Adds a {@code __metadata__} entry (replacing an earlier value for the key). */
    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
        return this;
    }

    /** Adds an F32 tensor. */
    public SafetensorsWriter put(String name, long[] shape, float[] data) {
        return put(name, DType.F32, shape, data);
    }

    /** Adds a float tensor stored as F32, F16 or BF16 (rounded to nearest even) or F64. */
    public SafetensorsWriter put(String name, DType dtype, long[] shape, float[] data) {
        Objects.requireNonNull(dtype, "dtype");
        if (!dtype.isFloatingPoint()) {
            throw new IllegalArgumentException("tensor '" + name + "': dtype " + dtype + " is not a float dtype; "
                    + "HINT: pass F32, F16, BF16 or F64, or use put(name, shape, long[]/int[]) for integers.");
        }
        Objects.requireNonNull(data, "data");
        for (int i = 0; i < data.length; i++) {
            float v = data[i];
            if (!Float.isFinite(v)) {
                throw new IllegalArgumentException("tensor '" + name + "': element " + i + " is " + v
                        + "; HINT: NaN/Inf are never written, fix the computation that produced them.");
            }
            if (dtype == DType.F16 && !Float.isFinite(HalfFloats.f16ToFloat(HalfFloats.floatToF16(v)))) {
                throw new IllegalArgumentException("tensor '" + name + "': element " + i + " = " + v
                        + " overflows F16 (max 65504); HINT: store it as BF16 or F32.");
            }
            if (dtype == DType.BF16 && !Float.isFinite(HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(v)))) {
                throw new IllegalArgumentException("tensor '" + name + "': element " + i + " = " + v
                        + " overflows BF16 after rounding; HINT: store it as F32.");
            }
        }
        return add(name, dtype, shape, data, data.length);
    }

    /** Adds an F64 tensor. */
    public SafetensorsWriter put(String name, long[] shape, double[] data) {
        Objects.requireNonNull(data, "data");
        for (int i = 0; i < data.length; i++) {
            if (!Double.isFinite(data[i])) {
                throw new IllegalArgumentException("tensor '" + name + "': element " + i + " is " + data[i]
                        + "; HINT: NaN/Inf are never written, fix the computation that produced them.");
            }
        }
        return add(name, DType.F64, shape, data, data.length);
    }

    /** Adds an I64 tensor. */
    public SafetensorsWriter put(String name, long[] shape, long[] data) {
        Objects.requireNonNull(data, "data");
        return add(name, DType.I64, shape, data, data.length);
    }

    /** Adds an I32 tensor. */
    public SafetensorsWriter put(String name, long[] shape, int[] data) {
        Objects.requireNonNull(data, "data");
        return add(name, DType.I32, shape, data, data.length);
    }

    private SafetensorsWriter add(String name, DType dtype, long[] shape, Object data, int length) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(shape, "shape");
        if (name.isEmpty() || name.equals("__metadata__")) {
            throw new IllegalArgumentException("tensor name " + Json.abbreviate(name) + " is reserved or empty; HINT: choose another name.");
        }
        if (entries.containsKey(name)) {
            throw new IllegalArgumentException("tensor '" + name + "' was already added; HINT: each name may be put once.");
        }
        long numel = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("tensor '" + name + "': negative dimension in shape " + Arrays.toString(shape));
            }
            numel = Math.multiplyExact(numel, d);
        }
        if (numel != length) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape) + " has " + numel
                    + " elements but the data has " + length + "; HINT: pass a row-major array of the shape's size.");
        }
        entries.put(name, new Entry(dtype, shape.clone(), data, length));
        return this;
    }

    /** Writes the file atomically (temporary file in the same folder, then rename). */
    public void write(Path target) throws IOException {
        Map<String, Object> header = new LinkedHashMap<>();
        if (!metadata.isEmpty()) {
            header.put("__metadata__", metadata);
        }
        long offset = 0;
        for (Map.Entry<String, Entry> e : entries.entrySet()) {
            Entry en = e.getValue();
            long bytes = (long) en.length() * en.dtype().byteSize();
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("dtype", en.dtype().name());
            info.put("shape", en.shape());
            info.put("data_offsets", new long[] {offset, offset + bytes});
            header.put(e.getKey(), info);
            offset += bytes;
        }
        byte[] json = Json.MAPPER.writer().without(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT)
                .writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        Path abs = target.toAbsolutePath();
        Path tmp = Json.temporarySibling(abs);
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer buf = ByteBuffer.allocate(Math.max(CHUNK_BYTES, 8 + padded)).order(ByteOrder.LITTLE_ENDIAN);
                buf.putLong(padded);
                buf.put(json);
                for (int i = json.length; i < padded; i++) {
                    buf.put((byte) ' ');
                }
                buf.flip();
                writeFully(ch, buf);
                buf = ByteBuffer.allocate(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
                for (Entry en : entries.values()) {
                    writeData(ch, buf, en);
                }
                ch.force(true);
            }
            Json.moveAtomically(tmp, abs);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static void writeData(FileChannel ch, ByteBuffer buf, Entry en) throws IOException {
        int size = en.dtype().byteSize();
        int perChunk = buf.capacity() / size;
        for (int from = 0; from < en.length(); from += perChunk) {
            int n = Math.min(perChunk, en.length() - from);
            buf.clear();
            switch (en.dtype()) {
                case F32 -> buf.asFloatBuffer().put((float[]) en.data(), from, n);
                case I64 -> buf.asLongBuffer().put((long[]) en.data(), from, n);
                case I32 -> buf.asIntBuffer().put((int[]) en.data(), from, n);
                case F64 -> {
                    if (en.data() instanceof double[] d) {
                        buf.asDoubleBuffer().put(d, from, n);
                    } else {
                        float[] f = (float[]) en.data();
                        for (int i = 0; i < n; i++) {
                            buf.putDouble(i * 8, f[from + i]);
                        }
                    }
                }
                case F16 -> {
                    float[] f = (float[]) en.data();
                    for (int i = 0; i < n; i++) {
                        buf.putShort(i * 2, HalfFloats.floatToF16(f[from + i]));
                    }
                }
                case BF16 -> {
                    float[] f = (float[]) en.data();
                    for (int i = 0; i < n; i++) {
                        buf.putShort(i * 2, HalfFloats.floatToBf16(f[from + i]));
                    }
                }
                default -> throw new AssertionError(en.dtype());
            }
            buf.limit(n * size);
            writeFully(ch, buf);
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }
}
