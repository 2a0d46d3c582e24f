package io.influence.checkpoints;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;

/**
 * A safetensors file, opened read-only and memory-mapped.
 *
 * <pre>
 * byte 0..7        N, unsigned 64-bit little-endian: length of the header
 * byte 8..8+N-1    header, UTF-8 JSON object:
 *                    { "name": {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}, ...,
 *                      "__metadata__": {"key": "value", ...} }            (metadata optional, strings only)
 *                  (writers pad it with spaces to a multiple of 8 bytes)
 * byte 8+N..       data area; tensor bytes are [8+N+begin, 8+N+end), little-endian, row-major
 * </pre>
 *
 * <p>Validation on {@link #open} (done by {@link SafetensorsHeader}; every failure a
 * {@link CheckpointFormatException} naming the file and, where one is concerned, the tensor): the
 * header length is checked against the file size and a 100 MB bound before anything is allocated;
 * the header must be strict UTF-8 JSON without duplicate keys; each entry needs exactly the fields
 * dtype (known), shape (non-negative integers) and data_offsets (two non-negative integers,
 * begin &lt;= end &lt;= data size), and shape × dtype size must equal end − begin. Like the
 * reference Rust implementation, the tensors must tile the data area exactly: sorted by offset,
 * each starts where the previous ended, the first at 0 and the last at the end of the file. Gaps,
 * overlaps and trailing bytes are refused, so every byte of the file is accounted for.
 *
 * <p>Reads go through memory maps of at most 1 GiB each (files may exceed 2 GiB; see
 * {@link MappedWindows}): windows of 1 GiB starting every 512 MiB of the data area are mapped on
 * first use and kept, so any tensor up to 512 MiB is a slice of one window; larger tensors are
 * mapped piecewise. Values are converted to the requested Java type (F16 and BF16 widen exactly
 * to float32) and refuse NaN or infinite values. Not thread-safe to close while reading; reads
 * themselves are independent.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Largest header accepted (the reference implementation uses the same order of magnitude). */
    static final long MAX_HEADER_BYTES = 100L * 1000 * 1000;
    /** Bytes mapped at once; a multiple of every dtype size. */
    static final int WINDOW_BYTES = 1 << 30;
    /** Cached windows start every 512 MiB and are 1 GiB long (less at the end of the file). */
    static final long HALF_WINDOW_BYTES = 1L << 29;
    private static final int MAX_ARRAY = Integer.MAX_VALUE - 8;

    private final Path file;
    private final FileChannel channel;
    private final MappedWindows windows;
    private final Map<String, TensorInfo> tensors;
    private final List<String> names;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path file, FileChannel channel, SafetensorsHeader header, long halfWindow, int chunk) {
        this.file = file;
        this.channel = channel;
        this.windows = new MappedWindows(file, channel, header.dataStart(), header.dataSize(), halfWindow, chunk);
        this.tensors = header.tensors();
        this.names = List.copyOf(tensors.keySet());
        this.metadata = header.metadata();
    }

    /**
     * Opens and validates a safetensors file. PyTorch pickle files ({@code .bin}, {@code .pt},
     * {@code .pth}, {@code .ckpt}) are refused without being read.
     */
    public static SafetensorsFile open(Path file) throws CheckpointFormatException {
        return open(file, HALF_WINDOW_BYTES, WINDOW_BYTES);
    }

    /** As {@link #open(Path)} with other map sizes (tests use tiny ones); chunk must be a multiple of 8. */
    static SafetensorsFile open(Path file, long halfWindow, int chunk) throws CheckpointFormatException {
        if (halfWindow <= 0 || chunk <= 0 || chunk % 8 != 0 || 2 * halfWindow > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("bad map sizes " + halfWindow + ", " + chunk);
        }
        if (PickleRefusal.isPickleName(file)) {
            throw PickleRefusal.refuse(file);
        }
        if (Files.isDirectory(file)) {
            throw new CheckpointFormatException(file, null, "is a folder, not a safetensors file.",
                    "pass the model.safetensors file inside it, or open the folder with Checkpoint.open.");
        }
        FileChannel channel;
        try {
            channel = FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new CheckpointFormatException(file, null, "does not exist.", "check the path.", e);
        } catch (IOException e) {
            throw new CheckpointFormatException(file, null, "cannot be opened: " + e + ".", "check the path and permissions.", e);
        }
        try {
            SafetensorsFile f = new SafetensorsFile(file, channel, SafetensorsHeader.read(file, channel), halfWindow, chunk);
            channel = null;
            return f;
        } finally {
            if (channel != null) {
                try {
                    channel.close();
                } catch (IOException ignored) {
                    // already failing
                }
            }
        }
    }

    /** The file this was opened from. */
    public Path file() {
        return file;
    }

    /** The {@code __metadata__} entries (empty if none), unmodifiable. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Tensor names in sorted order, unmodifiable. */
    public List<String> names() {
        return names;
    }

    /** True if the file holds a tensor of this name. */
    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** Dtype, shape and byte span of a tensor. */
    public TensorInfo info(String name) throws CheckpointFormatException {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new CheckpointFormatException(file, name, "is not in this file (" + tensors.size() + " tensors; e.g. "
                    + NameHints.near(names, name) + ").", "check the tensor name against the checkpoint's parameter names.");
        }
        return t;
    }

    /** Reads a floating-point tensor (F32, F16, BF16 widened exactly; F64 rounded to nearest) as float32. */
    public float[] readFloats(String name) throws CheckpointFormatException {
        TensorInfo t = requireFloat(name);
        float[] out = new float[arrayLength(t)];
        int[] pos = {0};
        windows.forEach(t, buf -> {
            int n = buf.remaining() / t.dtype().byteSize();
            switch (t.dtype()) {
                case F32 -> buf.asFloatBuffer().get(out, pos[0], n);
                case F64 -> {
                    for (int i = 0; i < n; i++) {
                        out[pos[0] + i] = (float) buf.getDouble(i * 8);
                    }
                }
                case F16 -> {
                    for (int i = 0; i < n; i++) {
                        out[pos[0] + i] = HalfFloats.f16ToFloat(buf.getShort(i * 2));
                    }
                }
                case BF16 -> {
                    for (int i = 0; i < n; i++) {
                        out[pos[0] + i] = HalfFloats.bf16ToFloat(buf.getShort(i * 2));
                    }
                }
                default -> throw new AssertionError(t.dtype());
            }
            pos[0] += n;
        });
        for (int i = 0; i < out.length; i++) {
            if (!Float.isFinite(out[i])) {
                throw nonFinite(t, i, out[i]);
            }
        }
        return out;
    }

    /** Reads a floating-point tensor (any float dtype, widened exactly) as float64. */
    public double[] readDoubles(String name) throws CheckpointFormatException {
        TensorInfo t = requireFloat(name);
        if (t.dtype() != DType.F64) {
            float[] f = readFloats(name);
            double[] out = new double[f.length];
            for (int i = 0; i < f.length; i++) {
                out[i] = f[i];
            }
            return out;
        }
        double[] out = new double[arrayLength(t)];
        int[] pos = {0};
        windows.forEach(t, buf -> {
            int n = buf.remaining() / 8;
            buf.asDoubleBuffer().get(out, pos[0], n);
            pos[0] += n;
        });
        for (int i = 0; i < out.length; i++) {
            if (!Double.isFinite(out[i])) {
                throw nonFinite(t, i, out[i]);
            }
        }
        return out;
    }

    /** Reads an integer tensor (I32 or I64) as longs. */
    public long[] readLongs(String name) throws CheckpointFormatException {
        TensorInfo t = info(name);
        if (t.dtype() != DType.I64 && t.dtype() != DType.I32) {
            throw new CheckpointFormatException(file, name, "has dtype " + t.dtype() + ", not an integer dtype (I32, I64).",
                    "read it with readFloats or readDoubles.");
        }
        long[] out = new long[arrayLength(t)];
        int[] pos = {0};
        windows.forEach(t, buf -> {
            int n = buf.remaining() / t.dtype().byteSize();
            if (t.dtype() == DType.I64) {
                buf.asLongBuffer().get(out, pos[0], n);
            } else {
                for (int i = 0; i < n; i++) {
                    out[pos[0] + i] = buf.getInt(i * 4);
                }
            }
            pos[0] += n;
        });
        return out;
    }

    private TensorInfo requireFloat(String name) throws CheckpointFormatException {
        TensorInfo t = info(name);
        if (!t.dtype().isFloatingPoint()) {
            throw new CheckpointFormatException(file, name, "has dtype " + t.dtype() + ", not a floating-point dtype.",
                    "read it with readLongs.");
        }
        return t;
    }

    private int arrayLength(TensorInfo t) throws CheckpointFormatException {
        long numel = t.numel();
        if (numel > MAX_ARRAY) {
            throw new CheckpointFormatException(file, t.name(), "has " + numel + " elements, more than a Java array holds ("
                    + MAX_ARRAY + ").", "split the tensor into smaller ones before saving.");
        }
        return (int) numel;
    }

    private CheckpointFormatException nonFinite(TensorInfo t, int index, double value) {
        return new CheckpointFormatException(file, t.name(), "element " + index + " (flat, row-major) is " + value + ".",
                "the checkpoint holds NaN or infinite values: training diverged or the file is corrupt; use an earlier checkpoint.");
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // read-only channel; nothing to flush
        }
    }
}
