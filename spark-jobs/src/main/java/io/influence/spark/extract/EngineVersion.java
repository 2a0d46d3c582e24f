package io.influence.spark.extract;

/** The engine version written into every output's provenance. */
public final class EngineVersion {

  /** Taken from the jar manifest when packaged, else the development version. */
  public static final String VALUE = java.util.Optional.ofNullable(EngineVersion.class.getPackage())
      .map(Package::getImplementationVersion).orElse("0.1.0-SNAPSHOT");

  private EngineVersion() {}
}
