package io.influence.checkpoints;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Our run manifest, {@value TrainingRuns#MANIFEST}: reading it (every field checked, unknown
 * fields refused, paths kept inside the run folder, SHA-256 compared when recorded) and writing
 * it. The format is documented on {@link TrainingRuns}.
 */
final class RunManifest {
    private static final Set<String> ROOT_FIELDS = Set.of("format", "checkpoints");
    private static final Set<String> ENTRY_FIELDS = Set.of("step", "learning_rate", "path", "sha256");

    private RunManifest() {
    }

    /** Reads the manifest {@code manifest} of the run in {@code runDir} (see {@link TrainingRuns}). */
    static TrainingRun read(Path runDir, Path manifest, OptionalDouble constant) throws CheckpointFormatException {
        ObjectNode root = Json.requireObject(manifest, Json.readFile(manifest, "the run manifest"), "the run manifest");
        String hint = "see TrainingRuns for the manifest format, or write it with TrainingRuns.writeManifest.";
        unknownFields(manifest, root, ROOT_FIELDS, "the manifest", hint);
        JsonNode format = root.get("format");
        if (format == null || !format.isTextual() || !TrainingRuns.FORMAT.equals(format.textValue())) {
            throw new CheckpointFormatException(manifest, null, "\"format\" must be \"" + TrainingRuns.FORMAT + "\" but is "
                    + Json.kind(format) + ".", hint);
        }
        JsonNode list = root.get("checkpoints");
        if (list == null || !list.isArray()) {
            throw new CheckpointFormatException(manifest, null, "\"checkpoints\" must be an array but is " + Json.kind(list) + ".", hint);
        }
        if (list.isEmpty()) {
            throw new CheckpointFormatException(manifest, null, "lists no checkpoints.", "add at least one checkpoint.");
        }
        List<RunCheckpoint> out = new ArrayList<>();
        Map<Long, String> steps = new TreeMap<>();
        ModelConfig first = null;
        for (int i = 0; i < list.size(); i++) {
            String where = "checkpoints[" + i + "]";
            JsonNode e = list.get(i);
            if (!e.isObject()) {
                throw new CheckpointFormatException(manifest, null, where + " must be an object but is " + Json.kind(e) + ".", hint);
            }
            unknownFields(manifest, (ObjectNode) e, ENTRY_FIELDS, where, hint);
            JsonNode stepNode = e.get("step");
            if (stepNode == null || !stepNode.isIntegralNumber() || !stepNode.canConvertToLong() || stepNode.longValue() < 0) {
                throw new CheckpointFormatException(manifest, null, where + ".step must be a non-negative integer but is "
                        + Json.kind(stepNode) + ".", hint);
            }
            long step = stepNode.longValue();
            where = where + " (step " + step + ")";
            JsonNode pathNode = e.get("path");
            if (pathNode == null || !pathNode.isTextual()) {
                throw new CheckpointFormatException(manifest, null, where + ".path must be a string but is "
                        + Json.kind(pathNode) + ".", hint);
            }
            Path dir = insideRun(runDir, manifest, pathNode.textValue(), where);
            String previous = steps.put(step, pathNode.textValue());
            if (previous != null) {
                throw new CheckpointFormatException(manifest, null, "step " + step + " is listed twice (" + previous + " and "
                        + pathNode.textValue() + ").", "each checkpoint must have its own step.");
            }
            double lr;
            JsonNode lrNode = e.get("learning_rate");
            if (constant.isPresent()) {
                lr = constant.getAsDouble();
            } else if (lrNode == null) {
                throw new CheckpointFormatException(manifest, null, where + " has no learning_rate.",
                        "add \"learning_rate\" to the entry, or pass a constant learning rate.");
            } else {
                if (!lrNode.isNumber()) {
                    throw new CheckpointFormatException(manifest, null, where + ".learning_rate must be a number but is "
                            + Json.kind(lrNode) + ".", hint);
                }
                lr = TrainingRuns.checkRate(manifest, where, lrNode.doubleValue());
            }
            first = TrainingRuns.checkSameConfig(dir, first, out);
            String sha = TrainingRuns.sha256(dir);
            JsonNode shaNode = e.get("sha256");
            if (shaNode != null) {
                if (!shaNode.isTextual()) {
                    throw new CheckpointFormatException(manifest, null, where + ".sha256 must be a string but is "
                            + Json.kind(shaNode) + ".", hint);
                }
                if (!sha.equals(shaNode.textValue().toLowerCase(Locale.ROOT))) {
                    throw new CheckpointFormatException(manifest, null, where + ": the safetensors files in " + dir
                            + " have SHA-256 " + sha + " but the manifest records " + Json.abbreviate(shaNode.textValue()) + ".",
                            "the checkpoint was changed or replaced after the manifest was written; restore it or rewrite the manifest.");
                }
            }
            out.add(new RunCheckpoint(step, lr, dir, sha));
        }
        out.sort(Comparator.comparingLong(RunCheckpoint::step));
        return new TrainingRun(out);
    }

    private static Path insideRun(Path runDir, Path manifest, String rel, String where) throws CheckpointFormatException {
        String hint = "paths in the manifest are relative to the run folder and must stay inside it.";
        Path p;
        try {
            p = Path.of(rel);
        } catch (InvalidPathException e) {
            throw new CheckpointFormatException(manifest, null, where + ".path " + Json.abbreviate(rel) + " is not a valid path.", hint, e);
        }
        if (rel.isEmpty() || p.isAbsolute() || rel.startsWith("/") || rel.startsWith("\\")) {
            throw new CheckpointFormatException(manifest, null, where + ".path " + Json.abbreviate(rel)
                    + " must be a non-empty relative path.", hint);
        }
        Path base = runDir.toAbsolutePath().normalize();
        Path dir = base.resolve(p).normalize();
        if (!dir.startsWith(base)) {
            throw new CheckpointFormatException(manifest, null, where + ".path " + Json.abbreviate(rel)
                    + " points outside the run folder.", hint);
        }
        try {
            if (Files.exists(dir) && !dir.toRealPath().startsWith(base.toRealPath())) {
                throw new CheckpointFormatException(manifest, null, where + ".path " + Json.abbreviate(rel)
                        + " leads outside the run folder through a symbolic link.", hint);
            }
        } catch (IOException e) {
            throw new CheckpointFormatException(manifest, null, where + ".path " + Json.abbreviate(rel) + " cannot be resolved: "
                    + e + ".", hint, e);
        }
        if (!Files.isDirectory(dir)) {
            throw new CheckpointFormatException(manifest, null, where + ".path " + Json.abbreviate(rel) + " is not a folder ("
                    + dir + ").", "restore the checkpoint folder or fix the path.");
        }
        return dir;
    }

    private static void unknownFields(Path file, ObjectNode node, Set<String> allowed, String where, String hint)
            throws CheckpointFormatException {
        Iterator<String> it = node.fieldNames();
        while (it.hasNext()) {
            String f = it.next();
            if (!allowed.contains(f)) {
                throw new CheckpointFormatException(file, null, where + " has unknown field \"" + f + "\"; allowed: "
                        + new TreeSet<>(allowed) + ".", hint);
            }
        }
    }

    /** Writes the manifest of {@code checkpoints} into {@code runDir} (see {@link TrainingRuns#writeManifest}). */
    static void write(Path runDir, List<RunCheckpoint> checkpoints) throws IOException {
        Objects.requireNonNull(runDir, "runDir");
        List<RunCheckpoint> sorted = new ArrayList<>(Objects.requireNonNull(checkpoints, "checkpoints"));
        sorted.sort(Comparator.comparingLong(RunCheckpoint::step));
        new TrainingRun(sorted); // validates: non-empty, distinct steps
        Path base = runDir.toAbsolutePath().normalize();
        List<Map<String, Object>> entries = new ArrayList<>();
        for (RunCheckpoint c : sorted) {
            Path dir = c.dir().toAbsolutePath().normalize();
            if (!dir.startsWith(base)) {
                throw new IllegalArgumentException("checkpoint folder " + c.dir() + " (step " + c.step()
                        + ") is not inside the run folder " + runDir + "; HINT: manifest paths are relative to the run folder.");
            }
            String rel = base.relativize(dir).toString().replace('\\', '/');
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("step", c.step());
            e.put("learning_rate", c.learningRate());
            e.put("path", rel.isEmpty() ? "." : rel);
            e.put("sha256", c.sha256());
            entries.add(e);
        }
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("format", TrainingRuns.FORMAT);
        root.put("checkpoints", entries);
        Json.writeAtomically(runDir.resolve(TrainingRuns.MANIFEST), root);
    }
}
