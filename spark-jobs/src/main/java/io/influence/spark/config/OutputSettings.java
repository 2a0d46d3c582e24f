package io.influence.spark.config;

/**
 * The {@code influence.output} block.
 *
 * @param dir       the folder every stage writes under, a local path or a URI, (gradients/, factors/, scores/, self-influence/, report/)
 * @param overwrite reuse an output folder written with different settings (its old content is replaced)
 */
public record OutputSettings(String dir, boolean overwrite) {

  static OutputSettings from(com.typesafe.config.Config c) {
    return new OutputSettings(c.getString("output.dir"), c.getBoolean("output.overwrite"));
  }
}
