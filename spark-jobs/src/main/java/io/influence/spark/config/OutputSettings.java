package io.influence.spark.config;

import java.nio.file.Path;

/**
 * The {@code influence.output} block.
 *
 * @param dir       the folder every stage writes under (gradients/, factors/, scores/, self-influence/, report/)
 * @param overwrite reuse an output folder written with different settings (its old content is replaced)
 */
public record OutputSettings(Path dir, boolean overwrite) {

  static OutputSettings from(com.typesafe.config.Config c) {
    return new OutputSettings(Path.of(c.getString("output.dir")), c.getBoolean("output.overwrite"));
  }
}
