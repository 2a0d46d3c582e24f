package io.influence.checkpoints;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A Hugging Face Trainer output folder read as a training run: the {@code checkpoint-N/}
 * sub-folders by step, and each one's learning rate from {@code trainer_state.json}'s
 * {@code log_history} (the rules are on {@link TrainingRuns}).
 */
final class TrainerFolder {
    private static final String TRAINER_STATE = "trainer_state.json";
    private static final Pattern CHECKPOINT_DIR = Pattern.compile("checkpoint-([0-9]+)");

    private TrainerFolder() {
    }

    /** Reads the Trainer output folder {@code runDir} (see {@link TrainingRuns}). */
    static TrainingRun read(Path runDir, OptionalDouble constant) throws CheckpointFormatException {
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
            throw new CheckpointFormatException(runDir, null, "holds neither " + TrainingRuns.MANIFEST + " nor any checkpoint-N folder.",
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
                lr = TrainingRuns.checkRate(state, "log_history step " + at.getKey() + " (used for " + e.getValue().getFileName() + ")",
                        at.getValue());
            }
            first = TrainingRuns.checkSameConfig(e.getValue(), first, out);
            out.add(new RunCheckpoint(step, lr, e.getValue(), TrainingRuns.sha256(e.getValue())));
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
}
