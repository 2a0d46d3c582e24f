/**
 * Reading the user's files: the training corpus as Parquet, JSON Lines or a Hugging Face {@code datasets} folder
 * ({@link io.influence.spark.io.Corpus}, {@link io.influence.spark.io.HfArrowFolder}) and the queries
 * ({@link io.influence.spark.io.Queries}).
 */
package io.influence.spark.io;
