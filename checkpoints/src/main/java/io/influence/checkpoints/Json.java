package io.influence.checkpoints;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.UUID;

/**
 * Strict JSON for every file this module reads: UTF-8 only (decoded strictly, so no encoding
 * is ever guessed), duplicate keys refused, nothing allowed after the root value, and field
 * accessors that turn a missing field or a wrong type into a {@link CheckpointFormatException}.
 */
final class Json {
    /** Largest JSON file (config.json, index, manifest, trainer_state.json) read into memory. */
    static final long MAX_JSON_FILE_BYTES = 100L * 1000 * 1000;

    static final ObjectMapper MAPPER = new ObjectMapper(JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build())
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(SerializationFeature.INDENT_OUTPUT);

    private Json() {
    }

    /** Parses UTF-8 bytes; any failure (bad UTF-8, bad JSON, duplicate key) becomes a CheckpointFormatException. */
    static JsonNode parse(Path file, byte[] bytes, String what) throws CheckpointFormatException {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new CheckpointFormatException(file, null, what + " is not valid UTF-8.",
                    "the file is corrupt or was not written as UTF-8 JSON; re-create it.", e);
        }
        try {
            JsonNode node = MAPPER.readTree(text);
            if (node == null || node.isMissingNode()) {
                throw new CheckpointFormatException(file, null, what + " is empty.", "the file is truncated; re-create it.");
            }
            return node;
        } catch (JacksonException e) {
            throw new CheckpointFormatException(file, null, what + " is not valid JSON: " + firstLine(e.getOriginalMessage()) + ".",
                    "the file is corrupt; re-create it (duplicate keys are refused too).", e);
        }
    }

    /** Reads and parses a whole JSON file (at most {@link #MAX_JSON_FILE_BYTES}). */
    static JsonNode readFile(Path file, String what) throws CheckpointFormatException {
        try {
            long size = Files.size(file);
            if (size > MAX_JSON_FILE_BYTES) {
                throw new CheckpointFormatException(file, null, what + " has " + size + " bytes, more than the limit of "
                        + MAX_JSON_FILE_BYTES + ".", "this is not a JSON file of the expected kind; check the path.");
            }
            return parse(file, Files.readAllBytes(file), what);
        } catch (IOException e) {
            throw new CheckpointFormatException(file, null, "cannot read " + what + ": " + e + ".",
                    "check that the file exists and is readable.", e);
        }
    }

    static ObjectNode requireObject(Path file, JsonNode node, String what) throws CheckpointFormatException {
        if (!(node instanceof ObjectNode o)) {
            throw new CheckpointFormatException(file, null, what + " must be a JSON object but is " + kind(node) + ".",
                    "see the format description in the documentation of the class that reads it.");
        }
        return o;
    }

    /** Writes JSON atomically: a temporary file in the same folder, then a rename over the target. */
    static void writeAtomically(Path target, Object value) throws IOException {
        byte[] bytes = MAPPER.writeValueAsBytes(value);
        byte[] withNewline = new byte[bytes.length + 1];
        System.arraycopy(bytes, 0, withNewline, 0, bytes.length);
        withNewline[bytes.length] = '\n';
        Path tmp = temporarySibling(target);
        try {
            Files.write(tmp, withNewline);
            moveAtomically(tmp, target);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * A new empty hidden file beside {@code target} to write and then {@link #moveAtomically move} over it, created
     * with the permissions of the process's umask (unlike {@link Files#createTempFile}, which makes it
     * {@code rw-------}, a mode the renamed output would keep).
     */
    static Path temporarySibling(Path target) throws IOException {
        Path abs = target.toAbsolutePath();
        return Files.createFile(abs.getParent().resolve("." + abs.getFileName() + "." + UUID.randomUUID() + ".tmp"));
    }

    static void moveAtomically(Path tmp, Path target) throws IOException {
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (java.nio.file.AtomicMoveNotSupportedException e) {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    static String kind(JsonNode node) {
        if (node == null || node.isMissingNode()) {
            return "missing";
        }
        return switch (node.getNodeType()) {
            case ARRAY -> "an array";
            case OBJECT, POJO -> "an object";
            case STRING -> "a string (" + abbreviate(node.asText()) + ")";
            case NUMBER -> "a number (" + node.asText() + ")";
            case BOOLEAN -> "a boolean (" + node.asText() + ")";
            case NULL -> "null";
            default -> node.getNodeType().toString().toLowerCase(java.util.Locale.ROOT);
        };
    }

    static String abbreviate(String s) {
        return s.length() <= 100 ? '"' + s + '"' : '"' + s.substring(0, 97) + "...\"";
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "unknown error";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
