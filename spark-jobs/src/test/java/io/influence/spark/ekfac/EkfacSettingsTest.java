package io.influence.spark.ekfac;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.ekfac.Damping;
import io.influence.spark.config.EkfacSettings;
import io.influence.spark.config.Settings;
import io.influence.spark.method.InfluenceMethod;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The {@code ekfac} settings block and the stages' {@code method} switches, read from the layered settings. */
class EkfacSettingsTest {

  @Test
  void from_defaults_relativeDampingPointOneAndLastCheckpoint() {
    EkfacSettings e = Settings.load(Optional.empty(), Map.of()).ekfac();
    assertEquals(Damping.relativeToMean(0.1), e.damping());
    // the influence function of the trained model: the final checkpoint only
    assertEquals(List.of("step-6"), e.select(List.of("step-3", "step-6")));
    assertEquals(List.of("step-3", "step-6"), Settings.load(Optional.empty(), Map.of("ekfac.checkpoints", "all"))
        .ekfac().select(List.of("step-3", "step-6")));
    var defaults = Settings.load(Optional.empty(), Map.of());
    assertEquals(false, InfluenceMethod.of(defaults.score().method(), defaults).needsFactors());
  }

  @Test
  void from_absoluteAndLast_usesLambdaAndLastCheckpointOnly() {
    EkfacSettings e = Settings.load(Optional.empty(), Map.of("ekfac.damping.mode", "absolute",
        "ekfac.damping.value", "0.5", "ekfac.checkpoints", "last")).ekfac();
    assertEquals(Damping.absolute(0.5), e.damping());
    assertEquals(List.of("step-6"), e.select(List.of("step-3", "step-6")));
  }

  @Test
  void from_bareNumberDamping_refusedWithTheBlockShape() {
    var e = assertThrows(IllegalArgumentException.class, () ->
        Settings.load(Optional.empty(), Map.of("ekfac.damping", "0.1")));
    assertTrue(e.getMessage().contains("influence.ekfac.damping must be a block")
        && e.getMessage().contains("influence.ekfac.damping.mode"),
        e.getMessage());
  }

  @Test
  void from_unknownValues_failNamingTheSetting() {
    var mode = assertThrows(IllegalArgumentException.class, () ->
        Settings.load(Optional.empty(), Map.of("ekfac.damping.mode", "relatve")));
    assertTrue(mode.getMessage().contains("influence.ekfac.damping.mode"), mode.getMessage());
    var which = assertThrows(IllegalArgumentException.class, () ->
        Settings.load(Optional.empty(), Map.of("ekfac.checkpoints", "first")));
    assertTrue(which.getMessage().contains("influence.ekfac.checkpoints"), which.getMessage());
    var negative = assertThrows(IllegalArgumentException.class, () ->
        Settings.load(Optional.empty(), Map.of("ekfac.damping.value", "-1")));
    assertTrue(negative.getMessage().contains("influence.ekfac.damping.value"), negative.getMessage());
    var text = assertThrows(IllegalArgumentException.class, () ->
        Settings.load(Optional.empty(), Map.of("ekfac.damping.value", "abc")));
    assertTrue(text.getMessage().contains("ekfac.damping.value"), text.getMessage());
    var method = assertThrows(IllegalArgumentException.class, () ->
        Settings.load(Optional.empty(), Map.of("score.method", "kfac")));
    assertTrue(method.getMessage().contains("influence.score.method"), method.getMessage());
  }
}
