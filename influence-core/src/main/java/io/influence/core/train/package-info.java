/**
 * Training a small GPT-2 from scratch, so that the project can produce its own training runs (the
 * checkpoints and learning rates TracIn weighs by) without PyTorch.
 *
 * <ul>
 *   <li>{@link io.influence.core.train.Trainer}: the training loop over token sequences
 *       ({@link io.influence.core.train.Trainer.Settings}), saving Hugging Face checkpoint folders
 *       and our run manifest; {@link io.influence.core.train.Trainer#save} writes one checkpoint.</li>
 *   <li>{@link io.influence.core.train.Initialization#gpt2}: GPT-2's seeded initialisation.</li>
 *   <li>{@link io.influence.core.train.Optimizer}: SGD and AdamW updating named parameters in place.</li>
 *   <li>Every run also records {@code initial/} and {@code training-log.jsonl} ({@link io.influence.checkpoints.TrainingLogs})
 *       for an exact replay; {@link io.influence.core.train.Trainer#trainWithout} retrains with one sequence left out.</li>
 *   <li>{@link io.influence.core.train.LearningRateSchedule}: constant or warm-up plus cosine decay.</li>
 * </ul>
 */
package io.influence.core.train;
