package io.influence.spark.ihvp;

import io.influence.spark.testing.TinyRun;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** One {@link TinyRun} for the ihvp tests of a JVM (training it is the slow part), in a folder deleted at exit. */
public final class SharedTinyRun {

  private static TinyRun tiny;
  private static Path dir;

  private SharedTinyRun() {}

  public static synchronized TinyRun get() throws Exception {
    if (tiny == null) {
      dir = Files.createTempDirectory("ihvp-tiny-run");
      Runtime.getRuntime().addShutdownHook(new Thread(SharedTinyRun::delete));
      tiny = TinyRun.create(dir);
    }
    return tiny;
  }

  /** The folder holding the run ({@code run/}), the corpus and the tokenizer. */
  public static synchronized Path dir() throws Exception {
    get();
    return dir;
  }

  private static void delete() {
    try (var walk = Files.walk(dir)) {
      for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
