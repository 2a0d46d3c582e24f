package io.influence.checkpoints;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedWriter;
import java.io.Closeable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The training log of a run folder and the run's initial parameters: what an exact replay of
 * the run needs beyond its checkpoints. Both sit beside {@value TrainingRuns#MANIFEST} and are not
 * part of it (the manifest lists the checkpoints TracIn weighs; these files are extra).
 *
 * <p><b>{@value #FILE}</b>: JSON Lines, UTF-8. Line 1 is the header, every further line one
 * optimizer step, in order:
 * <pre>
 * {"format": "influence-training-log/1", "optimizer": "sgd", "optimizer_settings": {"weight_decay": 0.0},
 *  "clip_norm": 0.0, "seed": 2, "corpus_size": 32, "initial": "initial", "initial_sha256": "ab12..."}
 * {"step": 1, "learning_rate": 0.5, "examples": [17, 3, 28, 9], "loss_divisor": 41.0, "clip_scale": 1.0}
 * ...
 * </pre>
 * {@code examples} are corpus indices (0-based positions in the training sequence list) of the
 * step's mini-batch; {@code loss_divisor} is what the batch's summed loss was divided by (the
 * batch's predicted-token count for our trainer); {@code clip_scale} the factor the gradient was
 * multiplied by when clipping fired (1 otherwise). See {@link TrainingLog.Step} for the update
 * these describe. Unknown fields are refused so a misspelt key is not silently ignored; steps must
 * run 1, 2, ... without gaps. A run interrupted mid-way leaves a log of the steps it finished.
 *
 * <p><b>{@value #INITIAL}/</b>: a checkpoint folder ({@code config.json} + {@code model.safetensors})
 * holding the parameters before step 1, in the precision training used; {@code initial_sha256}
 * is its {@link TrainingRuns#sha256} and is checked by {@link #initialState}.
 *
 * <p>Which corpus row each example index is (the log's indices are positions in the trainer's list of
 * sequences) is not in the log: {@code influence train} writes it beside the log as
 * {@value TrainingExamples#FILE} ({@link TrainingExamples}), bound to this file by its SHA-256.
 */
public final class TrainingLogs {
    /** File name of the log inside a run folder. */
    public static final String FILE = "training-log.jsonl";
    /** Folder name, inside the run folder, of the parameters before step 1. */
    public static final String INITIAL = "initial";
    /** Value of the header's "format" field. */
    public static final String FORMAT = "influence-training-log/1";

    private static final Set<String> HEADER_FIELDS = Set.of("format", "optimizer", "optimizer_settings", "clip_norm", "seed",
            "corpus_size", "initial", "initial_sha256");
    private static final Set<String> STEP_FIELDS = Set.of("step", "learning_rate", "examples", "loss_divisor", "clip_scale");
    private static final String HINT = "see TrainingLogs for the format; the trainer (io.influence.core.train.Trainer) "
            + "writes it, so retraining the run with it produces a valid log.";
    private static final ObjectWriter LINE = Json.MAPPER.writer().without(SerializationFeature.INDENT_OUTPUT);

    private TrainingLogs() {
    }

    /**
     * Reads and validates {@value #FILE} of {@code runDir}.
     *
     * @throws CheckpointFormatException naming the file and line, for a missing log or any bad field
     */
    public static TrainingLog read(Path runDir) throws CheckpointFormatException {
        Path file = runDir.resolve(FILE);
        if (!Files.isRegularFile(file)) {
            throw new CheckpointFormatException(file, null, "does not exist: the run has no training log, so it cannot be replayed.",
                    "retrain the run with the project's trainer (`influence train`, or io.influence.core.train.Trainer), "
                            + "which writes " + FILE + " and the " + INITIAL + "/ parameters beside the checkpoints.");
        }
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new CheckpointFormatException(file, null, "cannot be read as UTF-8 text: " + e + ".", HINT, e);
        }
        if (lines.isEmpty() || lines.get(0).isBlank()) {
            throw new CheckpointFormatException(file, null, "is empty (no header line).", HINT);
        }
        ObjectNode header = line(file, lines.get(0), 1);
        unknown(file, header, HEADER_FIELDS, "line 1 (the header)");
        String format = text(file, header, "format", 1);
        if (!FORMAT.equals(format)) {
            throw new CheckpointFormatException(file, null, "line 1: \"format\" must be \"" + FORMAT + "\" but is \""
                    + format + "\".", HINT);
        }
        String optimizer = text(file, header, "optimizer", 1);
        JsonNode settingsNode = header.get("optimizer_settings");
        if (settingsNode == null || !settingsNode.isObject()) {
            throw new CheckpointFormatException(file, null, "line 1: \"optimizer_settings\" must be an object but is "
                    + Json.kind(settingsNode) + ".", HINT);
        }
        Map<String, Double> settings = new LinkedHashMap<>();
        Iterator<Map.Entry<String, JsonNode>> it = settingsNode.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isNumber() || !Double.isFinite(e.getValue().doubleValue())) {
                throw new CheckpointFormatException(file, null, "line 1: optimizer_settings." + e.getKey()
                        + " must be a finite number but is " + Json.kind(e.getValue()) + ".", HINT);
            }
            settings.put(e.getKey(), e.getValue().doubleValue());
        }
        double clipNorm = number(file, header, "clip_norm", 1);
        long seed = integer(file, header, "seed", 1, Long.MIN_VALUE);
        long corpusSize = integer(file, header, "corpus_size", 1, 1);
        text(file, header, "initial", 1);
        text(file, header, "initial_sha256", 1);
        List<TrainingLog.Step> steps = new ArrayList<>();
        for (int i = 1; i < lines.size(); i++) {
            int lineNo = i + 1;
            if (lines.get(i).isBlank()) {
                if (i == lines.size() - 1) {
                    break;
                }
                throw new CheckpointFormatException(file, null, "line " + lineNo + " is blank.", HINT);
            }
            ObjectNode s = line(file, lines.get(i), lineNo);
            unknown(file, s, STEP_FIELDS, "line " + lineNo);
            long step = integer(file, s, "step", lineNo, 1);
            if (step != steps.size() + 1) {
                throw new CheckpointFormatException(file, null, "line " + lineNo + " is step " + step + " but step "
                        + (steps.size() + 1) + " was expected (steps 1, 2, ... in order, without gaps).", HINT);
            }
            JsonNode ex = s.get("examples");
            if (ex == null || !ex.isArray() || ex.isEmpty()) {
                throw new CheckpointFormatException(file, null, "line " + lineNo + ": \"examples\" must be a non-empty array but is "
                        + Json.kind(ex) + ".", HINT);
            }
            int[] examples = new int[ex.size()];
            for (int k = 0; k < examples.length; k++) {
                JsonNode v = ex.get(k);
                if (!v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() < 0 || v.intValue() >= corpusSize) {
                    throw new CheckpointFormatException(file, null, "line " + lineNo + ": examples[" + k + "] must be a corpus index in [0, "
                            + corpusSize + ") but is " + Json.kind(v) + ".", HINT);
                }
                examples[k] = v.intValue();
            }
            try {
                steps.add(new TrainingLog.Step((int) step, number(file, s, "learning_rate", lineNo), examples,
                        number(file, s, "loss_divisor", lineNo), number(file, s, "clip_scale", lineNo)));
            } catch (IllegalArgumentException e) {
                throw new CheckpointFormatException(file, null, "line " + lineNo + ": " + e.getMessage(), HINT);
            }
        }
        try {
            return new TrainingLog(optimizer, settings, clipNorm, seed, (int) corpusSize, steps);
        } catch (IllegalArgumentException e) {
            throw new CheckpointFormatException(file, null, e.getMessage(), HINT);
        }
    }

    /**
     * The folder of the parameters before step 1, checked against the log's {@code initial_sha256}.
     *
     * @throws CheckpointFormatException when the folder is missing or its safetensors changed
     */
    public static Path initialState(Path runDir) throws CheckpointFormatException {
        Path file = runDir.resolve(FILE);
        read(runDir);
        String firstLine;
        try (var lines = Files.lines(file, StandardCharsets.UTF_8)) {
            firstLine = lines.findFirst().orElseThrow();
        } catch (IOException e) {
            throw new CheckpointFormatException(file, null, "cannot be read: " + e + ".", HINT, e);
        }
        ObjectNode header = line(file, firstLine, 1);
        String rel = header.get("initial").textValue();
        Path dir = runDir.resolve(rel).normalize();
        if (!dir.startsWith(runDir.normalize()) || !Files.isDirectory(dir)) {
            throw new CheckpointFormatException(file, null, "line 1: \"initial\" names " + dir
                    + ", which is not a folder inside the run folder.",
                    "restore the " + INITIAL + "/ folder the trainer wrote, or retrain the run.");
        }
        String sha = TrainingRuns.sha256(dir);
        if (!sha.equals(header.get("initial_sha256").textValue())) {
            throw new CheckpointFormatException(file, null, "the initial parameters in " + dir + " have SHA-256 " + sha
                    + " but the log records " + Json.abbreviate(header.get("initial_sha256").textValue()) + ".",
                    "the initial state was changed after training; restore it or retrain the run.");
        }
        return dir;
    }

    /**
     * Starts {@value #FILE} in {@code runDir} (replacing an old one) with its header; the
     * parameters before step 1 must already be saved in {@code runDir/}{@value #INITIAL}.
     */
    public static Writer start(Path runDir, String optimizer, Map<String, Double> optimizerSettings, double clipNorm,
                               long seed, int corpusSize) throws IOException {
        Path initial = runDir.resolve(INITIAL);
        String sha;
        try {
            sha = TrainingRuns.sha256(initial);
        } catch (CheckpointFormatException e) {
            throw new IOException("the initial parameters must be saved in " + initial + " before the log starts: "
                    + e.getMessage(), e);
        }
        Map<String, Object> header = new LinkedHashMap<>();
        header.put("format", FORMAT);
        header.put("optimizer", optimizer);
        header.put("optimizer_settings", new java.util.TreeMap<>(optimizerSettings));
        header.put("clip_norm", clipNorm);
        header.put("seed", seed);
        header.put("corpus_size", corpusSize);
        header.put("initial", INITIAL);
        header.put("initial_sha256", sha);
        BufferedWriter out = Files.newBufferedWriter(runDir.resolve(FILE), StandardCharsets.UTF_8);
        Writer w = new Writer(out, corpusSize);
        w.line(header);
        return w;
    }

    /** Appends steps to a log, one line each, flushed per step so an interrupted run keeps what it did. */
    public static final class Writer implements Closeable {
        private final BufferedWriter out;
        private final int corpusSize;
        private int next = 1;

        private Writer(BufferedWriter out, int corpusSize) {
            this.out = out;
            this.corpusSize = corpusSize;
        }

        /** Appends {@code step}, which must be the next one. */
        public void append(TrainingLog.Step step) throws IOException {
            if (step.step() != next) {
                throw new IllegalArgumentException("step " + step.step() + " appended but step " + next + " is next.");
            }
            for (int e : step.examples()) {
                if (e < 0 || e >= corpusSize) {
                    throw new IllegalArgumentException("step " + step.step() + " names example " + e + ", outside the corpus of "
                            + corpusSize + ".");
                }
            }
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("step", step.step());
            m.put("learning_rate", step.learningRate());
            m.put("examples", step.examples());
            m.put("loss_divisor", step.lossDivisor());
            m.put("clip_scale", step.clipScale());
            line(m);
            next++;
        }

        private void line(Object value) throws IOException {
            out.write(LINE.writeValueAsString(value));
            out.write('\n');
            out.flush();
        }

        @Override
        public void close() throws IOException {
            out.close();
        }
    }

    private static ObjectNode line(Path file, String text, int lineNo) throws CheckpointFormatException {
        JsonNode node = Json.parse(file, text.getBytes(StandardCharsets.UTF_8), "line " + lineNo);
        if (!(node instanceof ObjectNode o)) {
            throw new CheckpointFormatException(file, null, "line " + lineNo + " must be a JSON object but is " + Json.kind(node) + ".",
                    HINT);
        }
        return o;
    }

    private static void unknown(Path file, ObjectNode node, Set<String> allowed, String where) throws CheckpointFormatException {
        Iterator<String> it = node.fieldNames();
        while (it.hasNext()) {
            String f = it.next();
            if (!allowed.contains(f)) {
                throw new CheckpointFormatException(file, null, where + " has unknown field \"" + f + "\"; allowed: "
                        + new TreeSet<>(allowed) + ".", HINT);
            }
        }
        for (String f : allowed) {
            if (!node.has(f)) {
                throw new CheckpointFormatException(file, null, where + " lacks the field \"" + f + "\".", HINT);
            }
        }
    }

    private static String text(Path file, ObjectNode node, String field, int lineNo) throws CheckpointFormatException {
        JsonNode v = node.get(field);
        if (v == null || !v.isTextual()) {
            throw new CheckpointFormatException(file, null, "line " + lineNo + ": \"" + field + "\" must be a string but is "
                    + Json.kind(v) + ".", HINT);
        }
        return v.textValue();
    }

    private static double number(Path file, ObjectNode node, String field, int lineNo) throws CheckpointFormatException {
        JsonNode v = node.get(field);
        if (v == null || !v.isNumber() || !Double.isFinite(v.doubleValue())) {
            throw new CheckpointFormatException(file, null, "line " + lineNo + ": \"" + field + "\" must be a finite number but is "
                    + Json.kind(v) + ".", HINT);
        }
        return v.doubleValue();
    }

    private static long integer(Path file, ObjectNode node, String field, int lineNo, long min) throws CheckpointFormatException {
        JsonNode v = node.get(field);
        if (v == null || !v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < min
                || (field.equals("corpus_size") || field.equals("step")) && !v.canConvertToInt()) {
            throw new CheckpointFormatException(file, null, "line " + lineNo + ": \"" + field + "\" must be an integer >= " + min
                    + " but is " + Json.kind(v) + ".", HINT);
        }
        return v.longValue();
    }
}
