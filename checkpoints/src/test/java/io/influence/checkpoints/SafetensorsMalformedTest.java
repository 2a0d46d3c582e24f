package io.influence.checkpoints;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One test per way a safetensors file can be malformed; the bytes are built here by hand. */
class SafetensorsMalformedTest {
    @TempDir
    Path tmp;

    /** 8-byte little-endian length, then the header bytes as given, then the data. */
    static byte[] raw(long declaredLength, byte[] header, byte[] data) {
        return ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(declaredLength).put(header).put(data).array();
    }

    static byte[] file(String header, int dataBytes) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return raw(h.length, h, new byte[dataBytes]);
    }

    private Path write(byte[] bytes) throws Exception {
        Path p = tmp.resolve("bad.safetensors");
        Files.write(p, bytes);
        return p;
    }

    /** Opening fails with a CheckpointFormatException naming the file, the tensor (or null) and a phrase. */
    private CheckpointFormatException refused(byte[] bytes, String tensor, String phrase) throws Exception {
        Path p = write(bytes);
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> SafetensorsFile.open(p).close());
        assertEquals(p, e.file());
        assertEquals(tensor, e.tensor(), e.getMessage());
        assertTrue(e.getMessage().contains(phrase), "expected '" + phrase + "' in: " + e.getMessage());
        assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("HINT: "), e.getMessage());
        return e;
    }

    private static String entry(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + "," + end + "]}";
    }

    @Test
    void open_wellFormedBaseline_opens() throws Exception {
        Path p = write(file("{" + entry("a", "F32", "[2]", 0, 8) + "}", 8));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertArrayEquals(new float[] {0, 0}, f.readFloats("a"));
        }
    }

    @Test
    void open_emptyFile_refused() throws Exception {
        refused(new byte[0], null, "shorter than the 8-byte header length");
    }

    @Test
    void open_fiveBytes_refused() throws Exception {
        refused(new byte[5], null, "shorter than the 8-byte header length");
    }

    @Test
    void open_headerLengthBeyondFile_refused() throws Exception {
        refused(raw(1000, "{}".getBytes(StandardCharsets.UTF_8), new byte[0]), null, "declares a header of 1000 bytes");
    }

    @Test
    void open_headerLengthForgedNearTwoToThe64_refusedWithoutAllocating() throws Exception {
        refused(raw(-16, "{}".getBytes(StandardCharsets.UTF_8), new byte[0]), null, "declares a header of 18446744073709551600");
    }

    @Test
    void open_headerLengthOverBoundInLargeSparseFile_refused() throws Exception {
        Path p = tmp.resolve("big.safetensors");
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(SafetensorsFile.MAX_HEADER_BYTES + 1000); // sparse: nothing is written
            f.seek(0);
            f.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(SafetensorsFile.MAX_HEADER_BYTES + 1).array());
        }
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> SafetensorsFile.open(p));
        assertTrue(e.getMessage().contains("more than the limit"), e.getMessage());
        assertEquals(p, e.file());
    }

    @Test
    void open_invalidJson_refused() throws Exception {
        refused(file("{\"a\":{\"dtype\":\"F32\",", 0), null, "not valid JSON");
    }

    @Test
    void open_trailingGarbageAfterJson_refused() throws Exception {
        refused(file("{} {}", 0), null, "not valid JSON");
    }

    @Test
    void open_invalidUtf8_refused() throws Exception {
        byte[] h = {'{', '"', (byte) 0xC3, (byte) 0x28, '"', ':', '1', '}'};
        refused(raw(h.length, h, new byte[0]), null, "not valid UTF-8");
    }

    @Test
    void open_headerIsArray_refused() throws Exception {
        refused(file("[1,2]", 0), null, "must be a JSON object but is an array");
    }

    @Test
    void open_entryNotObject_refused() throws Exception {
        refused(file("{\"a\":[1]}", 0), "a", "header entry must be an object");
    }

    @Test
    void open_dtypeNotString_refused() throws Exception {
        refused(file("{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "a", "\"dtype\" must be a string");
    }

    @Test
    void open_dtypeMissing_refused() throws Exception {
        refused(file("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "a", "\"dtype\" must be a string but is missing");
    }

    @Test
    void open_shapeNotArray_refused() throws Exception {
        refused(file("{" + entry("a", "F32", "\"2\"", 0, 8) + "}", 8), "a", "\"shape\" must be an array");
    }

    @Test
    void open_dataOffsetsThreeEntries_refused() throws Exception {
        refused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4), "a", "must have 2 entries");
    }

    @Test
    void open_dataOffsetNotInteger_refused() throws Exception {
        refused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]}}", 4), "a",
                "\"data_offsets\" entry 1 must be a non-negative integer");
    }

    @Test
    void open_unknownFieldInEntry_refused() throws Exception {
        refused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"stride\":[1]}}", 4), "a",
                "unknown field \"stride\"");
    }

    @Test
    void open_metadataNotObject_refused() throws Exception {
        refused(file("{\"__metadata__\":\"pt\"}", 0), null, "\"__metadata__\" must be an object");
    }

    @Test
    void open_metadataValueNotString_refused() throws Exception {
        refused(file("{\"__metadata__\":{\"step\":5}}", 0), null, "key \"step\" must have a string value");
    }

    @Test
    void open_unknownDtype_refusedListingSupported() throws Exception {
        CheckpointFormatException e = refused(file("{" + entry("a", "F8_E4M3", "[4]", 0, 4) + "}", 4), "a", "unsupported dtype");
        assertTrue(e.getMessage().contains("BF16"), e.getMessage());
    }

    @Test
    void open_negativeShape_refused() throws Exception {
        refused(file("{" + entry("a", "F32", "[-1,2]", 0, 8) + "}", 8), "a", "\"shape\" entry 0 must be a non-negative integer");
    }

    @Test
    void open_fractionalShape_refused() throws Exception {
        refused(file("{" + entry("a", "F32", "[2.5]", 0, 10) + "}", 10), "a", "\"shape\" entry 0 must be a non-negative integer");
    }

    @Test
    void open_shapeProductOverflows_refused() throws Exception {
        refused(file("{" + entry("a", "F32", "[4294967296,4294967296]", 0, 8) + "}", 8), "a", "overflows 64 bits");
    }

    @Test
    void open_offsetsBeyondDataArea_refused() throws Exception {
        refused(file("{" + entry("a", "F32", "[4]", 0, 16) + "}", 8), "a", "beyond the data area of 8 bytes");
    }

    @Test
    void open_beginAfterEnd_refused() throws Exception {
        refused(file("{" + entry("a", "F32", "[1]", 8, 4) + "}", 8), "a", "begin > end");
    }

    @Test
    void open_overlappingTensors_refused() throws Exception {
        refused(file("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 4, 12) + "}", 12), "b",
                "overlap tensor 'a'");
    }

    @Test
    void open_sameBytesForTwoTensors_refused() throws Exception {
        refused(file("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 0, 8) + "}", 8), "b", "overlap tensor 'a'");
    }

    @Test
    void open_shapeTimesDtypeDiffersFromSpan_refused() throws Exception {
        refused(file("{" + entry("a", "F16", "[3]", 0, 8) + "}", 8), "a", "which need 6 bytes, but data_offsets [0, 8] span 8");
    }

    @Test
    void open_duplicateTensorName_refused() throws Exception {
        refused(file("{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("a", "F32", "[1]", 4, 8) + "}", 8), null, "Duplicate field 'a'");
    }

    @Test
    void open_gapBetweenTensors_refused() throws Exception {
        refused(file("{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("b", "F32", "[1]", 8, 12) + "}", 12), "b",
                "leaving bytes [4, 8) that belong to no tensor");
    }

    @Test
    void open_bytesAfterLastTensor_refused() throws Exception {
        refused(file("{" + entry("a", "F32", "[1]", 0, 4) + "}", 12), null, "8 bytes after the last tensor");
    }

    @Test
    void open_emptyTensorName_refused() throws Exception {
        refused(file("{" + entry("", "F32", "[1]", 0, 4) + "}", 4), "", "empty name");
    }

    @Test
    void readFloats_nanInData_refusedNamingElement() throws Exception {
        byte[] h = ("{" + entry("w", "F32", "[3]", 0, 12) + "}").getBytes(StandardCharsets.UTF_8);
        byte[] data = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putFloat(1f).putFloat(Float.NaN).putFloat(2f).array();
        Path p = write(raw(h.length, h, data));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> f.readFloats("w"));
            assertEquals("w", e.tensor());
            assertTrue(e.getMessage().contains("element 1"), e.getMessage());
            assertThrows(CheckpointFormatException.class, () -> f.readDoubles("w"));
        }
    }

    @Test
    void readFloats_infinityInF16_refused() throws Exception {
        byte[] h = ("{" + entry("w", "F16", "[1]", 0, 2) + "}").getBytes(StandardCharsets.UTF_8);
        byte[] data = ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort((short) 0x7C00).array();
        Path p = write(raw(h.length, h, data));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> f.readFloats("w"));
            assertTrue(e.getMessage().contains("Infinity"), e.getMessage());
        }
    }

    @Test
    void readLongs_floatTensor_refused() throws Exception {
        Path p = write(file("{" + entry("a", "F32", "[1]", 0, 4) + "}", 4));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> f.readLongs("a"));
            assertTrue(e.getMessage().contains("not an integer dtype"), e.getMessage());
        }
    }

    @Test
    void readFloats_integerTensor_refused() throws Exception {
        Path p = write(file("{" + entry("a", "I64", "[1]", 0, 8) + "}", 8));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> f.readFloats("a"));
            assertTrue(e.getMessage().contains("not a floating-point dtype"), e.getMessage());
        }
    }

    @Test
    void open_missingFile_refused() {
        Path p = tmp.resolve("nope.safetensors");
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> SafetensorsFile.open(p));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }

    @Test
    void open_folder_refused() {
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> SafetensorsFile.open(tmp));
        assertTrue(e.getMessage().contains("is a folder"), e.getMessage());
    }

    @Test
    void open_pickleExtensions_refusedWithoutReading() throws Exception {
        for (String name : new String[] {"pytorch_model.bin", "model.pt", "model.PTH", "last.ckpt"}) {
            Path p = tmp.resolve(name); // never created: the refusal must not depend on reading it
            CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> SafetensorsFile.open(p));
            assertEquals(p, e.file());
            assertTrue(e.getMessage().contains("pickle can execute arbitrary code")
                    || e.getMessage().contains("loading a pickle can execute arbitrary code"), e.getMessage());
            assertTrue(e.getMessage().contains("save_file(torch.load('pytorch_model.bin', weights_only=True)"), e.getMessage());
            assertTrue(e.getMessage().contains("safe_serialization=True"), e.getMessage());
            assertFalse(Files.exists(p));
        }
    }
}
