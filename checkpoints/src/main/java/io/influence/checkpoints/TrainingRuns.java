package io.influence.checkpoints;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.OptionalDouble;
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
 *
 * <p>The two layouts are read by {@link RunManifest} and {@link TrainerFolder}; this class picks
 * one and holds what both share (rate and config checks, the checkpoint hash).
 */
public final class TrainingRuns {
    /** File name of our manifest inside a run folder. */
    public static final String MANIFEST = "influence-run.json";
    /** Value of the manifest's "format" field. */
    public static final String FORMAT = "influence-run/1";

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
            return RunManifest.read(runDir, manifest, constantLearningRate);
        }
        return TrainerFolder.read(runDir, constantLearningRate);
    }

    /** {@code lr} if positive and finite; otherwise a CheckpointFormatException about {@code where} in {@code file}. */
    static double checkRate(Path file, String where, double lr) throws CheckpointFormatException {
        if (!(lr > 0) || !Double.isFinite(lr)) {
            throw new CheckpointFormatException(file, null, where + " has learning rate " + lr + ", which is not positive and finite.",
                    "TracIn weights each checkpoint by its learning rate; pass a constant learning rate or fix the value.");
        }
        return lr;
    }

    /**
     * Opens the checkpoint in {@code dir}; returns its config if it is the first, else checks it equals
     * {@code first} (the config of {@code before.get(0)}) and returns {@code first}.
     */
    static ModelConfig checkSameConfig(Path dir, ModelConfig first, List<RunCheckpoint> before)
            throws CheckpointFormatException {
        ModelConfig config;
        try (Checkpoint c = Checkpoint.open(AdapterFolders.isAdapter(dir) ? AdapterFolders.baseOf(dir) : dir)) {
            config = c.config();
        }
        if (first != null && !first.equals(config)) {
            throw new CheckpointFormatException(dir.resolve(Checkpoint.CONFIG), null, "describes " + config + " but checkpoint "
                    + before.get(0).dir() + " describes " + first + ".",
                    "all checkpoints of one run must share one architecture; list only checkpoints of the same run.");
        }
        return first == null ? config : first;
    }

    /**
     * SHA-256 (lower-case hex) over the bytes of the {@code *.safetensors} files directly in a
     * checkpoint folder, concatenated in file-name order. config.json and other files are not
     * included. For an adapter checkpoint ({@link AdapterFolders}) the base folder's
     * {@code *.safetensors} follow the adapter's, so a changed base changes the hash too.
     */
    public static String sha256(Path checkpointDir) throws CheckpointFormatException {
        List<Path> files = new ArrayList<>(safetensorsFiles(checkpointDir));
        if (AdapterFolders.isAdapter(checkpointDir)) {
            files.addAll(safetensorsFiles(AdapterFolders.baseOf(checkpointDir)));
        }
        return sha256OfFiles(files);
    }

    /** SHA-256 (lower-case hex) over the bytes of {@code files}, concatenated in the given order. */
    static String sha256OfFiles(List<Path> files) throws CheckpointFormatException {
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

    /** The {@code *.safetensors} files directly in {@code dir}, in file-name order; at least one. */
    private static List<Path> safetensorsFiles(Path dir) throws CheckpointFormatException {
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> p.getFileName().toString().endsWith(".safetensors") && Files.isRegularFile(p))
                    .sorted(Comparator.comparing(p -> p.getFileName().toString())).toList();
        } catch (IOException e) {
            throw new CheckpointFormatException(dir, null, "cannot be listed: " + e + ".", "check the path and permissions.", e);
        }
        if (files.isEmpty()) {
            throw new CheckpointFormatException(dir, null, "holds no .safetensors file to hash.",
                    "save the checkpoint with safe_serialization=True.");
        }
        return files;
    }

    /**
     * Writes {@value #MANIFEST} into {@code runDir} atomically. Checkpoint folders must lie inside
     * {@code runDir}; they are recorded relative to it, sorted by step, with their learning rate and
     * SHA-256.
     */
    public static void writeManifest(Path runDir, List<RunCheckpoint> checkpoints) throws IOException {
        RunManifest.write(runDir, checkpoints);
    }
}
