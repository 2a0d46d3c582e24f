package io.influence.checkpoints;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

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
 * <p>Validation on {@link #open} (every failure a {@link CheckpointFormatException} naming the
 * file and, where one is concerned, the tensor): the header length is checked against the file
 * size and a 100 MB bound before anything is allocated; the header must be strict UTF-8 JSON
 * without duplicate keys; each entry needs exactly the fields dtype (known), shape (non-negative
 * integers) and data_offsets (two non-negative integers, begin &lt;= end &lt;= data size), and
 * shape × dtype size must equal end − begin. Like the reference Rust implementation, the
 * tensors must tile the data area exactly: sorted by offset, each starts where the previous
 * ended, the first at 0 and the last at the end of the file. Gaps, overlaps and trailing bytes
 * are refused, so every byte of the file is accounted for.
 *
 * <p>Reads go through memory maps of at most 1 GiB each (files may exceed 2 GiB): windows of
 * 1 GiB starting every 512 MiB of the data area are mapped on first use and kept, so any tensor
 * up to 512 MiB is a slice of one window; larger tensors are mapped piecewise. Values are converted
 * to the requested Java type (F16 and BF16 widen exactly to float32) and refuse NaN or
 * infinite values. Not thread-safe to close while reading; reads themselves are independent.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Largest header accepted (the reference implementation uses the same order of magnitude). */
    static final long MAX_HEADER_BYTES = 100L * 1000 * 1000;
    /** Bytes mapped at once; a multiple of every dtype size. */
    static final int WINDOW_BYTES = 1 << 30;
    /** Cached windows start every 512 MiB and are 1 GiB long (less at the end of the file). */
    static final long HALF_WINDOW_BYTES = 1L << 29;
    private static final int MAX_ARRAY = Integer.MAX_VALUE - 8;
    private static final String METADATA = "__metadata__";

    private final Path file;
    private final FileChannel channel;
    private final long dataStart;
    private final long dataSize;
    private final MappedByteBuffer[] windows;
    private final long halfWindow;
    private final int chunk;
    private final Map<String, TensorInfo> tensors;
    private final List<String> names;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path file, FileChannel channel, long dataStart, long dataSize, Map<String, TensorInfo> tensors,
                            Map<String, String> metadata, long halfWindow, int chunk) {
        this.halfWindow = halfWindow;
        this.chunk = chunk;
        this.file = file;
        this.channel = channel;
        this.dataStart = dataStart;
        this.dataSize = dataSize;
        this.windows = new MappedByteBuffer[(int) ((dataSize + halfWindow - 1) / halfWindow)];
        this.tensors = tensors;
        this.names = List.copyOf(tensors.keySet());
        this.metadata = Collections.unmodifiableMap(metadata);
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
            SafetensorsFile f = parse(file, channel, halfWindow, chunk);
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

    private static SafetensorsFile parse(Path file, FileChannel channel, long halfWindow, int chunk)
            throws CheckpointFormatException {
        long size;
        byte[] headerBytes;
        long n;
        try {
            size = channel.size();
            if (size < 8) {
                throw new CheckpointFormatException(file, null, "is " + size + " bytes long, shorter than the 8-byte header length.",
                        "the file is truncated or not a safetensors file; re-create it.");
            }
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(channel, len, 0);
            n = len.getLong(0);
            if (n < 0 || n > size - 8) {
                throw new CheckpointFormatException(file, null, "declares a header of " + Long.toUnsignedString(n)
                        + " bytes but the file has only " + (size - 8) + " bytes after the length field.",
                        "the file is truncated or not a safetensors file; re-create it.");
            }
            if (n > MAX_HEADER_BYTES) {
                throw new CheckpointFormatException(file, null, "declares a header of " + n + " bytes, more than the limit of "
                        + MAX_HEADER_BYTES + ".", "the file is corrupt or not a safetensors file; re-create it.");
            }
            ByteBuffer header = ByteBuffer.allocate((int) n);
            readFully(channel, header, 8);
            headerBytes = header.array();
        } catch (IOException e) {
            throw new CheckpointFormatException(file, null, "cannot be read: " + e + ".", "check the file and the disk.", e);
        }
        JsonNode root = Json.parse(file, headerBytes, "the safetensors header");
        if (!(root instanceof ObjectNode obj)) {
            throw new CheckpointFormatException(file, null, "the safetensors header must be a JSON object but is "
                    + Json.kind(root) + ".", "the file is corrupt or not a safetensors file; re-create it.");
        }
        long dataStart = 8 + n;
        long dataSize = size - dataStart;
        Map<String, String> metadata = new LinkedHashMap<>();
        List<TensorInfo> infos = new ArrayList<>();
        Iterator<Map.Entry<String, JsonNode>> it = obj.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            if (METADATA.equals(e.getKey())) {
                readMetadata(file, e.getValue(), metadata);
            } else {
                infos.add(readEntry(file, e.getKey(), e.getValue(), dataSize));
            }
        }
        checkTiling(file, infos, dataSize);
        Map<String, TensorInfo> byName = new TreeMap<>();
        for (TensorInfo t : infos) {
            byName.put(t.name(), t);
        }
        return new SafetensorsFile(file, channel, dataStart, dataSize, Collections.unmodifiableMap(byName), metadata,
                halfWindow, chunk);
    }

    private static void readMetadata(Path file, JsonNode node, Map<String, String> out) throws CheckpointFormatException {
        if (!node.isObject()) {
            throw new CheckpointFormatException(file, null, "\"__metadata__\" must be an object of strings but is "
                    + Json.kind(node) + ".", "re-create the file; metadata values must be JSON strings.");
        }
        Iterator<Map.Entry<String, JsonNode>> it = node.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) {
                throw new CheckpointFormatException(file, null, "\"__metadata__\" key \"" + e.getKey()
                        + "\" must have a string value but has " + Json.kind(e.getValue()) + ".",
                        "re-create the file; metadata values must be JSON strings.");
            }
            out.put(e.getKey(), e.getValue().textValue());
        }
    }

    private static TensorInfo readEntry(Path file, String name, JsonNode node, long dataSize) throws CheckpointFormatException {
        String hint = "the header is corrupt; re-create the file.";
        if (name.isEmpty()) {
            throw new CheckpointFormatException(file, name, "has an empty name.", hint);
        }
        if (!node.isObject()) {
            throw new CheckpointFormatException(file, name, "header entry must be an object with dtype, shape and "
                    + "data_offsets but is " + Json.kind(node) + ".", hint);
        }
        Iterator<String> fields = node.fieldNames();
        while (fields.hasNext()) {
            String f = fields.next();
            if (!f.equals("dtype") && !f.equals("shape") && !f.equals("data_offsets")) {
                throw new CheckpointFormatException(file, name, "header entry has unknown field \"" + f
                        + "\"; only dtype, shape and data_offsets are allowed.", hint);
            }
        }
        JsonNode dt = node.get("dtype");
        if (dt == null || !dt.isTextual()) {
            throw new CheckpointFormatException(file, name, "\"dtype\" must be a string but is " + Json.kind(dt) + ".", hint);
        }
        DType dtype;
        try {
            dtype = DType.valueOf(dt.textValue());
        } catch (IllegalArgumentException e) {
            throw new CheckpointFormatException(file, name, "has unsupported dtype " + Json.abbreviate(dt.textValue())
                    + "; supported: " + Arrays.toString(DType.values()) + ".",
                    "convert the tensor to one of the supported dtypes before saving.");
        }
        long[] shape = longArray(file, name, node.get("shape"), "shape", -1);
        long[] offsets = longArray(file, name, node.get("data_offsets"), "data_offsets", 2);
        long begin = offsets[0];
        long end = offsets[1];
        if (begin > end) {
            throw new CheckpointFormatException(file, name, "has data_offsets [" + begin + ", " + end + "] with begin > end.", hint);
        }
        if (end > dataSize) {
            throw new CheckpointFormatException(file, name, "has data_offsets [" + begin + ", " + end
                    + "] beyond the data area of " + dataSize + " bytes.", "the file is truncated or corrupt; re-create it.");
        }
        long bytes;
        try {
            long numel = 1;
            for (long d : shape) {
                numel = Math.multiplyExact(numel, d);
            }
            bytes = Math.multiplyExact(numel, dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new CheckpointFormatException(file, name, "has shape " + Arrays.toString(shape)
                    + " whose size overflows 64 bits.", hint);
        }
        if (bytes != end - begin) {
            throw new CheckpointFormatException(file, name, "has shape " + Arrays.toString(shape) + " and dtype " + dtype
                    + ", which need " + bytes + " bytes, but data_offsets [" + begin + ", " + end + "] span "
                    + (end - begin) + ".", hint);
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static long[] longArray(Path file, String name, JsonNode node, String field, int requiredLength)
            throws CheckpointFormatException {
        String hint = "the header is corrupt; re-create the file.";
        if (node == null || !node.isArray()) {
            throw new CheckpointFormatException(file, name, "\"" + field + "\" must be an array of non-negative integers but is "
                    + Json.kind(node) + ".", hint);
        }
        if (requiredLength >= 0 && node.size() != requiredLength) {
            throw new CheckpointFormatException(file, name, "\"" + field + "\" must have " + requiredLength
                    + " entries but has " + node.size() + ".", hint);
        }
        long[] out = new long[node.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = node.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
                throw new CheckpointFormatException(file, name, "\"" + field + "\" entry " + i
                        + " must be a non-negative integer but is " + Json.kind(v) + ".", hint);
            }
            out[i] = v.longValue();
        }
        return out;
    }

    private static void checkTiling(Path file, List<TensorInfo> infos, long dataSize) throws CheckpointFormatException {
        List<TensorInfo> sorted = new ArrayList<>(infos);
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long expected = 0;
        TensorInfo previous = null;
        for (TensorInfo t : sorted) {
            if (t.begin() < expected) {
                throw new CheckpointFormatException(file, t.name(), "bytes [" + t.begin() + ", " + t.end()
                        + ") overlap tensor '" + previous.name() + "' [" + previous.begin() + ", " + previous.end() + ").",
                        "the header is corrupt; re-create the file.");
            }
            if (t.begin() > expected) {
                throw new CheckpointFormatException(file, t.name(), "starts at byte " + t.begin()
                        + " of the data area, leaving bytes [" + expected + ", " + t.begin() + ") that belong to no tensor.",
                        "tensors must tile the data area without gaps; re-create the file with a safetensors writer.");
            }
            expected = t.end();
            previous = t;
        }
        if (expected != dataSize) {
            throw new CheckpointFormatException(file, null, "the data area has " + (dataSize - expected)
                    + " bytes after the last tensor (ends at " + expected + " of " + dataSize + ").",
                    "the file was appended to or its header is corrupt; re-create it.");
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
                    + examples(names, name) + ").", "check the tensor name against the checkpoint's parameter names.");
        }
        return t;
    }

    /** Reads a floating-point tensor (F32, F16, BF16 widened exactly; F64 rounded to nearest) as float32. */
    public float[] readFloats(String name) throws CheckpointFormatException {
        TensorInfo t = requireFloat(name);
        float[] out = new float[arrayLength(t)];
        int[] pos = {0};
        forEachWindow(t, buf -> {
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
        forEachWindow(t, buf -> {
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
        forEachWindow(t, buf -> {
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

    private interface WindowConsumer {
        void accept(ByteBuffer littleEndianWindow);
    }

    private void forEachWindow(TensorInfo t, WindowConsumer consumer) throws CheckpointFormatException {
        if (!channel.isOpen()) {
            throw new IllegalStateException(file + ": the safetensors file is closed.");
        }
        long length = t.byteLength();
        if (length == 0) {
            return;
        }
        try {
            if (length <= halfWindow) {
                // fast path: a slice of a cached window; window i covers data bytes [i*H, i*H + 2H), so it
                // holds every tensor of at most H bytes that starts in [i*H, (i+1)*H)
                int i = (int) (t.begin() / halfWindow);
                ByteBuffer w = window(i);
                consumer.accept(w.slice((int) (t.begin() - i * halfWindow), (int) length).order(ByteOrder.LITTLE_ENDIAN));
                return;
            }
            long pos = dataStart + t.begin();
            long end = dataStart + t.end();
            while (pos < end) {
                int len = (int) Math.min(chunk, end - pos);
                MappedByteBuffer map = channel.map(FileChannel.MapMode.READ_ONLY, pos, len);
                consumer.accept(map.order(ByteOrder.LITTLE_ENDIAN));
                pos += len;
            }
        } catch (IOException e) {
            throw new CheckpointFormatException(file, t.name(), "cannot be read: " + e + ".", "check the file and the disk.", e);
        }
    }

    private synchronized ByteBuffer window(int i) throws IOException {
        if (windows[i] == null) {
            long from = i * halfWindow;
            long len = Math.min(2 * halfWindow, dataSize - from);
            windows[i] = channel.map(FileChannel.MapMode.READ_ONLY, dataStart + from, len);
        }
        return windows[i];
    }

    private static void readFully(FileChannel channel, ByteBuffer buf, long position) throws IOException {
        long pos = position;
        while (buf.hasRemaining()) {
            int r = channel.read(buf, pos);
            if (r < 0) {
                throw new IOException("unexpected end of file at byte " + pos);
            }
            pos += r;
        }
    }

    static String examples(List<String> names, String wanted) {
        List<String> picks = new ArrayList<>();
        // names sharing the longest prefix with the wanted one first, then the first few
        String best = null;
        int bestLen = -1;
        for (String n : names) {
            int l = commonPrefix(n, wanted);
            if (l > bestLen) {
                bestLen = l;
                best = n;
            }
        }
        if (best != null && bestLen > 0) {
            picks.add(best);
        }
        for (String n : names) {
            if (picks.size() >= 5) {
                break;
            }
            if (!picks.contains(n)) {
                picks.add(n);
            }
        }
        return picks.isEmpty() ? "none" : String.join(", ", picks);
    }

    private static int commonPrefix(String a, String b) {
        int n = Math.min(a.length(), b.length());
        int i = 0;
        while (i < n && a.charAt(i) == b.charAt(i)) {
            i++;
        }
        return i;
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
