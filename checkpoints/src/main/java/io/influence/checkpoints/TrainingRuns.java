package io.influence.checkpoints;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Reads a training run (the checkpoints and their learning rates) from one of two layouts.
 *
 * <p><b>Our manifest</b>, {@code influence-run.json} in the run folder (preferred when present):
 * <pre>
 * {"format": "influence-run/1",
 *  "checkpoints": [{"step": 100, "learning_rate": 3e-4, "path": "checkpoint-100", "sha256": "ab12..."}, ...]}
 * </pre>
 * {@code path} is relative to the run folder and must stay inside it (symbolic links included);
 * {@code sha256} is optional and, when present, must match (see {@link #sha256}); unknown fields
 * are refused so a misspelt key is not silently ignored.
 *
 * <p><b>A Hugging Face Trainer output folder</b>: {@code checkpoint-N/} sub-folders (N = step),
 * each a {@link Checkpoint} folder, and {@code trainer_state.json} either in the run folder or,
 * as the Trainer saves it, in the last {@code checkpoint-N/} folder. The learning rate of
 * checkpoint N is the {@code learning_rate} of the {@code log_history} entry with
 * {@code step == N}; if the Trainer did not log at step N (logging_steps does not divide N), the
 * latest logged entry with {@code step <= N} is used. That is the value the Trainer logged,
 * i.e. the scheduler's rate after step N's update.
 *
 * <p>A constant learning rate, if given, is used for every checkpoint and overrides whatever the
 * files record; without one, a checkpoint with no recorded rate is an error naming it. Every
 * checkpoint folder is opened and validated, all must share one config.json, steps must be
 * distinct, rates positive and finite, and a run must have at least one checkpoint.
 */
public final class TrainingRuns {
    /** File name of our manifest inside a run folder. */
    public static final String MANIFEST = "influence-run.json";
    /** Value of the manifest's "format" field. */
    public static final String FORMAT = "influence-run/1";
    static final String TRAINER_STATE = "trainer_state.json";
    private static final Pattern CHECKPOINT_DIR = Pattern.compile("checkpoint-([0-9]+)");
    private static final Set<String> ROOT_FIELDS = Set.of("format", "checkpoints");
    private static final Set<String> ENTRY_FIELDS = Set.of("step", "learning_rate", "path", "sha256");

    private TrainingRuns() {
    }

    /**
     * Reads the run in {@code runDir}: {@value #MANIFEST} if present, else a Trainer layout.
     *
     * @param constantLearningRate if present, the learning rate of every checkpoint (positive, finite)
     */
    public static TrainingRun read(Path runDir, OptionalDouble constantLearningRate) throws CheckpointFormatException {
        Objects.requireNonNull(runDir, "runDir");
        Objects.requireNonNull(constantLearningRate, "constantLearningRate");
        if (constantLearningRate.isPresent()) {
            double lr = constantLearningRate.getAsDouble();
            if (!(lr > 0) || !Double.isFinite(lr)) {
                throw new IllegalArgumentException("constant learning rate " + lr + " must be positive and finite.");
            }
        }
        runDir = runDir.toAbsolutePath().normalize();
        if (!Files.isDirectory(runDir)) {
            throw new CheckpointFormatException(runDir, null, Files.exists(runDir) ? "is not a folder." : "does not exist.",
                    "pass the training run folder (holding " + MANIFEST + " or checkpoint-N folders).");
        }
        Path manifest = runDir.resolve(MANIFEST);
        if (Files.exists(manifest)) {
            return readManifest(runDir, manifest, constantLearningRate);
        }
        return readTrainerFolder(runDir, constantLearningRate);
    }

    // ------------------------------------------------------------------ manifest

    private static TrainingRun readManifest(Path runDir, Path manifest, OptionalDouble constant) throws CheckpointFormatException {
        ObjectNode root = Json.requireObject(manifest, Json.readFile(manifest, "the run manifest"), "the run manifest");
        String hint = "see TrainingRuns for the manifest format, or write it with TrainingRuns.writeManifest.";
        unknownFields(manifest, root, ROOT_FIELDS, "the manifest", hint);
        JsonNode format = root.get("format");
        if (format == null || !format.isTextual() || !FORMAT.equals(format.textValue())) {
            throw new CheckpointFormatException(manifest, null, "\"format\" must be \"" + FORMAT + "\" but is "
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
                lr = checkRate(manifest, where, lrNode.doubleValue());
            }
            first = checkSameConfig(dir, first, out);
            String sha = sha256(dir);
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
                        + new java.util.TreeSet<>(allowed) + ".", hint);
            }
        }
    }

    private static double checkRate(Path file, String where, double lr) throws CheckpointFormatException {
        if (!(lr > 0) || !Double.isFinite(lr)) {
            throw new CheckpointFormatException(file, null, where + " has learning rate " + lr + ", which is not positive and finite.",
                    "TracIn weights each checkpoint by its learning rate; pass a constant learning rate or fix the value.");
        }
        return lr;
    }

    private static ModelConfig checkSameConfig(Path dir, ModelConfig first, List<RunCheckpoint> before)
            throws CheckpointFormatException {
        ModelConfig config;
        try (Checkpoint c = Checkpoint.open(dir)) {
            config = c.config();
        }
        if (first != null && !first.equals(config)) {
            throw new CheckpointFormatException(dir.resolve(Checkpoint.CONFIG), null, "describes " + config + " but checkpoint "
                    + before.get(0).dir() + " describes " + first + ".",
                    "all checkpoints of one run must share one architecture; list only checkpoints of the same run.");
        }
        return first == null ? config : first;
    }

    // ------------------------------------------------------------------ Trainer folder

    private static TrainingRun readTrainerFolder(Path runDir, OptionalDouble constant) throws CheckpointFormatException {
        TreeMap<Long, Path> byStep = new TreeMap<>();
        List<Path> subdirs;
        try (Stream<Path> s = Files.list(runDir)) {
            subdirs = s.filter(Files::isDirectory).sorted().toList();
        } catch (IOException e) {
            throw new CheckpointFormatException(runDir, null, "cannot be listed: " + e + ".", "check the permissions.", e);
        }
        for (Path d : subdirs) {
            Matcher m = CHECKPOINT_DIR.matcher(d.getFileName().toString());
            if (!m.matches()) {
                continue;
            }
            long step;
            try {
                step = Long.parseLong(m.group(1));
            } catch (NumberFormatException e) {
                throw new CheckpointFormatException(d, null, "has a step number too large for 64 bits.", "rename the folder.", e);
            }
            Path other = byStep.put(step, d);
            if (other != null) {
                throw new CheckpointFormatException(runDir, null, "has two folders for step " + step + ": "
                        + other.getFileName() + " and " + d.getFileName() + ".", "remove or rename one of them.");
            }
        }
        if (byStep.isEmpty()) {
            throw new CheckpointFormatException(runDir, null, "holds neither " + MANIFEST + " nor any checkpoint-N folder.",
                    "point at a Hugging Face Trainer output folder, or write a manifest with TrainingRuns.writeManifest.");
        }
        TreeMap<Long, Double> rates = new TreeMap<>();
        Path state = null;
        if (constant.isEmpty()) {
            Path last = byStep.lastEntry().getValue();
            state = Files.isRegularFile(runDir.resolve(TRAINER_STATE)) ? runDir.resolve(TRAINER_STATE) : last.resolve(TRAINER_STATE);
            if (!Files.isRegularFile(state)) {
                throw new CheckpointFormatException(runDir, null, "has no " + TRAINER_STATE + " (looked in the run folder and in "
                        + last.getFileName() + "), so the checkpoints' learning rates are unknown.",
                        "pass a constant learning rate, or write a manifest with the learning rates.");
            }
            rates = loggedRates(state);
        }
        List<RunCheckpoint> out = new ArrayList<>();
        ModelConfig first = null;
        for (Map.Entry<Long, Path> e : byStep.entrySet()) {
            long step = e.getKey();
            double lr;
            if (constant.isPresent()) {
                lr = constant.getAsDouble();
            } else {
                Map.Entry<Long, Double> at = rates.floorEntry(step);
                if (at == null) {
                    throw new CheckpointFormatException(e.getValue(), null, "has no learning rate: " + state
                            + " logs none at or before step " + step + ".",
                            "pass a constant learning rate, lower logging_steps when training, or write a manifest.");
                }
                lr = checkRate(state, "log_history step " + at.getKey() + " (used for " + e.getValue().getFileName() + ")",
                        at.getValue());
            }
            first = checkSameConfig(e.getValue(), first, out);
            out.add(new RunCheckpoint(step, lr, e.getValue(), sha256(e.getValue())));
        }
        return new TrainingRun(out);
    }

    /** Logged learning rate per step; of several entries at one step the last one counts. */
    private static TreeMap<Long, Double> loggedRates(Path state) throws CheckpointFormatException {
        ObjectNode root = Json.requireObject(state, Json.readFile(state, TRAINER_STATE), TRAINER_STATE);
        String hint = "the file is corrupt; pass a constant learning rate or write a manifest instead.";
        JsonNode history = root.get("log_history");
        if (history == null || !history.isArray()) {
            throw new CheckpointFormatException(state, null, "\"log_history\" must be an array but is " + Json.kind(history) + ".", hint);
        }
        TreeMap<Long, Double> rates = new TreeMap<>();
        for (int i = 0; i < history.size(); i++) {
            JsonNode e = history.get(i);
            if (!e.isObject()) {
                throw new CheckpointFormatException(state, null, "log_history[" + i + "] must be an object but is "
                        + Json.kind(e) + ".", hint);
            }
            JsonNode lr = e.get("learning_rate");
            if (lr == null) {
                continue; // eval and summary entries carry no learning rate
            }
            JsonNode step = e.get("step");
            if (step == null || !step.isIntegralNumber() || !step.canConvertToLong() || step.longValue() < 0) {
                throw new CheckpointFormatException(state, null, "log_history[" + i + "].step must be a non-negative integer but is "
                        + Json.kind(step) + ".", hint);
            }
            if (!lr.isNumber()) {
                throw new CheckpointFormatException(state, null, "log_history[" + i + "].learning_rate must be a number but is "
                        + Json.kind(lr) + ".", hint);
            }
            rates.put(step.longValue(), lr.doubleValue());
        }
        return rates;
    }

    // ------------------------------------------------------------------ hashing and writing

    /**
     * SHA-256 (lower-case hex) over the bytes of the {@code *.safetensors} files directly in a
     * checkpoint folder, concatenated in file-name order. config.json and other files are not
     * included.
     */
    public static String sha256(Path checkpointDir) throws CheckpointFormatException {
        List<Path> files;
        try (Stream<Path> s = Files.list(checkpointDir)) {
            files = s.filter(p -> p.getFileName().toString().endsWith(".safetensors") && Files.isRegularFile(p))
                    .sorted(Comparator.comparing(p -> p.getFileName().toString())).toList();
        } catch (IOException e) {
            throw new CheckpointFormatException(checkpointDir, null, "cannot be listed: " + e + ".", "check the path and permissions.", e);
        }
        if (files.isEmpty()) {
            throw new CheckpointFormatException(checkpointDir, null, "holds no .safetensors file to hash.",
                    "save the checkpoint with safe_serialization=True.");
        }
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every Java platform", e);
        }
        byte[] buf = new byte[1 << 20];
        for (Path f : files) {
            try (InputStream in = Files.newInputStream(f)) {
                int r;
                while ((r = in.read(buf)) > 0) {
                    md.update(buf, 0, r);
                }
            } catch (IOException e) {
                throw new CheckpointFormatException(f, null, "cannot be read for hashing: " + e + ".", "check the file.", e);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /**
     * Writes {@value #MANIFEST} into {@code runDir} atomically. Checkpoint folders must lie inside
     * {@code runDir}; they are recorded relative to it, sorted by step, with their learning rate and
     * SHA-256.
     */
    public static void writeManifest(Path runDir, List<RunCheckpoint> checkpoints) throws IOException {
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
        root.put("format", FORMAT);
        root.put("checkpoints", entries);
        Json.writeAtomically(runDir.resolve(MANIFEST), root);
    }
}
