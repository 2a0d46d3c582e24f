/**
 * The {@code influence train} stage: a byte-level BPE and a small GPT-2 trained from scratch on a
 * corpus, saved as a training run (checkpoints, tokenizer, manifest) that the pipeline reads.
 */
package io.influence.spark.train;
