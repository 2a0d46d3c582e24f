/**
 * The per-example gradient store: Parquet shards, one folder per checkpoint
 * ({@code <store>/checkpoint=<name>/part-*.parquet}), rows
 * {@code (id string, checkpoint string, <layer column> array<float> ...)} where a layer's column is its
 * name with '.' replaced by "__" and each array is the layer's {@code [rows, cols]} matrix
 * ({@code [dOut, dIn]} full or {@code [kOut, kIn]} projected) flattened row-major. Metadata
 * ({@link io.influence.spark.store.StoreMetadata}) is kept in {@code _store.json} next to the data and in the
 * Parquet footer. Folders appear only when complete ({@link io.influence.spark.store.AtomicOutput}).
 * Entry point: {@link io.influence.spark.store.GradientStore}.
 */
package io.influence.spark.store;
