/**
 * The engine's settings: {@link io.influence.spark.config.Settings#load} reads the three layers (the defaults in
 * {@code reference.conf}, a user HOCON file, command-line overrides), refuses unknown keys and wrong types, and
 * returns {@link io.influence.spark.config.InfluenceSettings}, one validated record per block, every word-valued
 * choice an enum. Also the Spark session built from them ({@link io.influence.spark.config.Sessions}), the BLAS
 * thread counts of in-process work ({@link io.influence.spark.config.BlasThreads}) and the guard that saves the
 * settings beside each output and refuses to mix two configurations ({@link io.influence.spark.config.OutputGuard}).
 */
package io.influence.spark.config;
