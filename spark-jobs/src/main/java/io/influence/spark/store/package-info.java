/**
 * The per-example gradient store: Parquet shards, one folder per checkpoint
 * ({@code <store>/checkpoint=<name>/part-*.parquet}), rows
 * {@code (id string, checkpoint string, gradient binary)} where {@code gradient} (format 2) holds each layer's
 * {@code [rows, cols]} matrix ({@code [dOut, dIn]} full or {@code [kOut, kIn]} projected) flattened row-major,
 * layers concatenated in metadata order, as little-endian float32
 * ({@link io.influence.spark.store.StoredRow}; format-1 stores, one {@code array<float>} column per layer named
 * after the layer with '.' replaced by "__", are still read). Metadata
 * ({@link io.influence.spark.store.StoreMetadata}) is kept in {@code _store.json} next to the data and in the
 * Parquet footer. Folders appear only when complete ({@link io.influence.spark.store.AtomicOutput}).
 * Entry point: {@link io.influence.spark.store.GradientStore}.
 */
package io.influence.spark.store;
