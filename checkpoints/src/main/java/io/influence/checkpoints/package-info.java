/**
 * Checkpoint formats: safetensors files ({@link io.influence.checkpoints.SafetensorsFile},
 * {@link io.influence.checkpoints.SafetensorsWriter}), Hugging Face model folders with single or
 * sharded weights ({@link io.influence.checkpoints.Checkpoint}), their {@code config.json}
 * ({@link io.influence.checkpoints.ModelConfigs}), and training runs — checkpoints with the
 * learning rate of each — from our {@code influence-run.json} manifest or a Trainer output folder
 * ({@link io.influence.checkpoints.TrainingRuns}), and the training log that makes a run replayable
 * ({@link io.influence.checkpoints.TrainingLogs}).
 *
 * <p>Everything read from disk is validated when opened, and every problem with a file is one
 * checked {@link io.influence.checkpoints.CheckpointFormatException} naming the file (and tensor)
 * with a HINT; bad arguments are IllegalArgumentException. PyTorch pickle files are refused
 * unopened: unpickling can run arbitrary code. No Spark, no ND4J here.
 */
package io.influence.checkpoints;
