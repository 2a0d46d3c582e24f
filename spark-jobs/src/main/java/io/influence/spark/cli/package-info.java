/**
 * The {@code influence} command line (picocli): {@link io.influence.spark.cli.InfluenceCommand} and one subcommand
 * per stage; each loads the settings, starts Spark and calls one function of
 * {@link io.influence.spark.pipeline.Stages}.
 */
package io.influence.spark.cli;
