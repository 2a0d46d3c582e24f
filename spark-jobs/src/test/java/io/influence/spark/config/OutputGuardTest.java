package io.influence.spark.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.influence.spark.io.Locations;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A stage that fails before it writes anything leaves its output folder as it found it. */
class OutputGuardTest {

  @TempDir Path dir;

  private static final Config A = ConfigFactory.parseMap(Map.of("extract.batch-size", 16));
  private static final Config B = ConfigFactory.parseMap(Map.of("extract.batch-size", 8));

  @Test
  void whileClaimed_failureBeforeAnyOutput_withdrawsTheClaimAndTheNewFolder() {
    Path out = dir.resolve("out");
    var e = assertThrows(IllegalArgumentException.class, () -> OutputGuard.whileClaimed(Locations.local(out),
        "gradients", A, false, () -> {
          assertTrue(Files.exists(out.resolve(OutputGuard.file("gradients"))), "claimed while the work runs");
          throw new IllegalArgumentException("corpus missing");
        }));
    assertEquals("corpus missing", e.getMessage());
    assertFalse(Files.exists(out), "the folder this call created is gone");
    // the corrected retry, with other settings, is not refused
    assertEquals("done", OutputGuard.whileClaimed(Locations.local(out), "gradients", B, false, () -> "done"));
    assertTrue(Files.exists(out.resolve(OutputGuard.file("gradients"))));
  }

  @Test
  void whileClaimed_failureAfterOutputExists_keepsTheClaim() {
    Path out = dir.resolve("out");
    assertThrows(IllegalStateException.class, () -> OutputGuard.whileClaimed(Locations.local(out), "gradients", A,
        false, () -> {
          try {
            Files.createDirectories(out.resolve("gradients").resolve("checkpoint=step-3"));
          } catch (java.io.IOException io) {
            throw new java.io.UncheckedIOException(io);
          }
          throw new IllegalStateException("killed half way");
        }));
    assertTrue(Files.exists(out.resolve(OutputGuard.file("gradients"))), "written output stays claimed");
    assertThrows(IllegalStateException.class, () -> OutputGuard.whileClaimed(Locations.local(out), "gradients", B,
        false, () -> "x"), "other settings are refused while its output exists");
  }

  @Test
  void whileClaimed_failureOnAnEarlierClaim_keepsIt() throws Exception {
    Path out = dir.resolve("out");
    OutputGuard.claim(out, "gradients", A, false);
    assertThrows(IllegalArgumentException.class, () -> OutputGuard.whileClaimed(Locations.local(out), "gradients",
        A, false, () -> {
          throw new IllegalArgumentException("bad");
        }));
    assertTrue(Files.exists(out.resolve(OutputGuard.file("gradients"))), "a claim made earlier is not this call's");
  }
}
