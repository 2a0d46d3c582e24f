package io.influence.checkpoints;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
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
 * The validated header of a safetensors file: where the data area starts, how long it is, each
 * tensor's {@link TensorInfo} by name and the {@code __metadata__} strings. {@link #read} applies
 * every structural rule listed on {@link SafetensorsFile} (header length bound, strict JSON,
 * exact entry fields, sizes that match, tensors tiling the data area) before a byte of tensor data
 * is touched.
 *
 * @param dataStart byte offset of the data area in the file ({@code 8 + header length})
 * @param dataSize  bytes from {@code dataStart} to the end of the file
 * @param tensors   tensor name to its dtype, shape and byte span, sorted by name, unmodifiable
 * @param metadata  the {@code __metadata__} entries (empty if none), unmodifiable
 */
record SafetensorsHeader(long dataStart, long dataSize, Map<String, TensorInfo> tensors, Map<String, String> metadata) {

    private static final String METADATA = "__metadata__";

    /** Reads and validates the header of the file open on {@code channel}; the channel is left open. */
    static SafetensorsHeader read(Path file, FileChannel channel) throws CheckpointFormatException {
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
            if (n > SafetensorsFile.MAX_HEADER_BYTES) {
                throw new CheckpointFormatException(file, null, "declares a header of " + n + " bytes, more than the limit of "
                        + SafetensorsFile.MAX_HEADER_BYTES + ".", "the file is corrupt or not a safetensors file; re-create it.");
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
        return new SafetensorsHeader(dataStart, dataSize, Collections.unmodifiableMap(byName),
                Collections.unmodifiableMap(metadata));
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
}
