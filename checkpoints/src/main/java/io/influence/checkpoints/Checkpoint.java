package io.influence.checkpoints;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * A Hugging Face model folder: {@code config.json} plus the weights, either one
 * {@code model.safetensors} or shards listed in {@code model.safetensors.index.json}:
 *
 * <pre>
 * { "metadata": {"total_size": 123, ...},
 *   "weight_map": { "tensor name": "model-00001-of-00002.safetensors", ... } }
 * </pre>
 *
 * If both a single file and an index are present the single file is used, as transformers does.
 * Shard names must be plain file names inside the folder (no separators, no "..", not
 * absolute); every shard must exist and be a valid safetensors file; every mapped tensor must be
 * in its shard; and a tensor may live in one shard only (a shard holding a tensor the index does
 * not map to it is refused too). Pickle weights ({@code pytorch_model.bin}, *.pt, ...) are
 * refused with a conversion hint and never opened.
 */
public final class Checkpoint implements AutoCloseable {
    static final String CONFIG = "config.json";
    static final String SINGLE = "model.safetensors";
    static final String INDEX = "model.safetensors.index.json";

    private final Path dir;
    private final ModelConfig config;
    private final List<SafetensorsFile> files;
    private final Map<String, SafetensorsFile> byTensor;
    private final Set<String> names;

    private Checkpoint(Path dir, ModelConfig config, List<SafetensorsFile> files, Map<String, SafetensorsFile> byTensor) {
        this.dir = dir;
        this.config = config;
        this.files = List.copyOf(files);
        this.byTensor = byTensor;
        this.names = Collections.unmodifiableSet(new TreeSet<>(byTensor.keySet()));
    }

    /** Opens and validates a checkpoint folder (config.json and all tensor headers). */
    public static Checkpoint open(Path dir) throws CheckpointFormatException {
        if (PickleRefusal.isPickleName(dir) && !Files.isDirectory(dir)) {
            throw PickleRefusal.refuse(dir);
        }
        if (!Files.isDirectory(dir)) {
            throw new CheckpointFormatException(dir, null, Files.exists(dir) ? "is not a folder." : "does not exist.",
                    "pass a checkpoint folder holding config.json and model.safetensors (or its shard index).");
        }
        Path single = dir.resolve(SINGLE);
        Path index = dir.resolve(INDEX);
        boolean hasSingle = Files.isRegularFile(single);
        boolean hasIndex = Files.isRegularFile(index);
        if (!hasSingle && !hasIndex) {
            List<String> listing = listing(dir);
            for (String name : listing) {
                if (PickleRefusal.isPickleName(Path.of(name))) {
                    throw PickleRefusal.refuse(dir.resolve(name));
                }
            }
            throw new CheckpointFormatException(dir, null, "has neither " + SINGLE + " nor " + INDEX + " (it holds: "
                    + (listing.isEmpty() ? "nothing" : String.join(", ", listing.subList(0, Math.min(10, listing.size()))))
                    + ").", "save the model with save_pretrained(dir, safe_serialization=True).");
        }
        Path configFile = dir.resolve(CONFIG);
        if (!Files.isRegularFile(configFile)) {
            throw new CheckpointFormatException(configFile, null, "does not exist.",
                    "a checkpoint folder needs the model's config.json next to its weights; copy it from the base model.");
        }
        ModelConfig config = ModelConfigs.read(configFile);
        List<SafetensorsFile> opened = new ArrayList<>();
        boolean ok = false;
        try {
            Map<String, SafetensorsFile> byTensor = new LinkedHashMap<>();
            if (hasSingle) {
                SafetensorsFile f = SafetensorsFile.open(single);
                opened.add(f);
                for (String n : f.names()) {
                    byTensor.put(n, f);
                }
            } else {
                openShards(dir, index, opened, byTensor);
            }
            Checkpoint c = new Checkpoint(dir, config, opened, byTensor);
            ok = true;
            return c;
        } finally {
            if (!ok) {
                opened.forEach(SafetensorsFile::close);
            }
        }
    }

    private static void openShards(Path dir, Path index, List<SafetensorsFile> opened, Map<String, SafetensorsFile> byTensor)
            throws CheckpointFormatException {
        ObjectNode root = Json.requireObject(index, Json.readFile(index, "the shard index"), "the shard index");
        JsonNode metadata = root.get("metadata");
        if (metadata != null && !metadata.isObject()) {
            throw new CheckpointFormatException(index, null, "\"metadata\" must be an object but is " + Json.kind(metadata) + ".",
                    "re-create the index with save_pretrained.");
        }
        JsonNode map = root.get("weight_map");
        if (map == null || !map.isObject() || map.isEmpty()) {
            throw new CheckpointFormatException(index, null, "\"weight_map\" must be a non-empty object {tensor: shard file} but is "
                    + Json.kind(map) + ".", "re-create the index with save_pretrained.");
        }
        Map<String, String> tensorToShard = new TreeMap<>();
        Iterator<Map.Entry<String, JsonNode>> it = map.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) {
                throw new CheckpointFormatException(index, e.getKey(), "maps to " + Json.kind(e.getValue())
                        + " instead of a shard file name.", "re-create the index with save_pretrained.");
            }
            tensorToShard.put(e.getKey(), e.getValue().textValue());
        }
        Map<String, SafetensorsFile> shards = new TreeMap<>();
        for (Map.Entry<String, String> e : tensorToShard.entrySet()) {
            String shardName = e.getValue();
            if (!shards.containsKey(shardName)) {
                Path shard = shardPath(dir, index, e.getKey(), shardName);
                if (!Files.isRegularFile(shard)) {
                    throw new CheckpointFormatException(index, e.getKey(), "is mapped to shard " + Json.abbreviate(shardName)
                            + ", which does not exist in " + dir + ".", "copy the missing shard into the folder.");
                }
                SafetensorsFile f = SafetensorsFile.open(shard);
                opened.add(f);
                shards.put(shardName, f);
            }
        }
        for (Map.Entry<String, String> e : tensorToShard.entrySet()) {
            SafetensorsFile f = shards.get(e.getValue());
            if (!f.contains(e.getKey())) {
                throw new CheckpointFormatException(index, e.getKey(), "is mapped to shard " + e.getValue()
                        + ", which does not contain it.", "the index and the shards are from different saves; re-save the model.");
            }
        }
        Map<String, String> seen = new TreeMap<>();
        for (Map.Entry<String, SafetensorsFile> s : shards.entrySet()) {
            for (String n : s.getValue().names()) {
                String other = seen.put(n, s.getKey());
                if (other != null) {
                    throw new CheckpointFormatException(index, n, "is stored in two shards, " + other + " and " + s.getKey() + ".",
                            "the index and the shards are from different saves; re-save the model.");
                }
            }
        }
        for (Map.Entry<String, String> e : seen.entrySet()) {
            if (!e.getValue().equals(tensorToShard.get(e.getKey()))) {
                throw new CheckpointFormatException(index, e.getKey(), "is stored in shard " + e.getValue()
                        + " but the weight_map does not map it there.",
                        "the index and the shards are from different saves; re-save the model.");
            }
            byTensor.put(e.getKey(), shards.get(e.getValue()));
        }
    }

    private static Path shardPath(Path dir, Path index, String tensor, String shardName) throws CheckpointFormatException {
        boolean plain = !shardName.isEmpty() && !shardName.contains("/") && !shardName.contains("\\")
                && !shardName.equals(".") && !shardName.equals("..") && shardName.indexOf('\0') < 0 && !shardName.contains(":");
        if (plain) {
            try {
                Path p = dir.resolve(shardName);
                if (p.getFileName().toString().equals(shardName) && dir.equals(p.getParent())) {
                    if (PickleRefusal.isPickleName(p)) {
                        throw PickleRefusal.refuse(p);
                    }
                    return p;
                }
            } catch (java.nio.file.InvalidPathException e) {
                // fall through to the error below
            }
        }
        throw new CheckpointFormatException(index, tensor, "is mapped to shard " + Json.abbreviate(shardName)
                + ", which is not a plain file name inside the checkpoint folder.",
                "shard names must not contain path separators or \"..\"; the index may be malicious or corrupt.");
    }

    private static List<String> listing(Path dir) throws CheckpointFormatException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new CheckpointFormatException(dir, null, "cannot be listed: " + e + ".", "check the permissions.", e);
        }
    }

    /** The folder. */
    public Path dir() {
        return dir;
    }

    /** The architecture from config.json. */
    public ModelConfig config() {
        return config;
    }

    /** All tensor names (of all shards), sorted, unmodifiable. */
    public Set<String> tensorNames() {
        return names;
    }

    /** Dtype, shape and byte span (within its own file) of a tensor. */
    public TensorInfo info(String name) throws CheckpointFormatException {
        return file(name).info(name);
    }

    /** A floating-point tensor as float32 (see {@link SafetensorsFile#readFloats}). */
    public float[] readFloats(String name) throws CheckpointFormatException {
        return file(name).readFloats(name);
    }

    /** A floating-point tensor as float64 (see {@link SafetensorsFile#readDoubles}). */
    public double[] readDoubles(String name) throws CheckpointFormatException {
        return file(name).readDoubles(name);
    }

    /** An integer tensor (I32, I64) as longs. */
    public long[] readLongs(String name) throws CheckpointFormatException {
        return file(name).readLongs(name);
    }

    private SafetensorsFile file(String name) throws CheckpointFormatException {
        SafetensorsFile f = byTensor.get(name);
        if (f == null) {
            throw new CheckpointFormatException(dir, name, "is not in this checkpoint (" + names.size() + " tensors; e.g. "
                    + NameHints.near(List.copyOf(names), name) + ").",
                    "check the tensor name against the checkpoint's parameter names (GPT-2 names start with 'transformer.').");
        }
        return f;
    }

    @Override
    public void close() {
        files.forEach(SafetensorsFile::close);
    }
}
