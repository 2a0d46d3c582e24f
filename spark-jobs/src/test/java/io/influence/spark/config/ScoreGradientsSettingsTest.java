package io.influence.spark.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.spark.config.ScoreSettings.Gradients;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** {@code score.gradients}: the default (auto) is unit for TracIn and raw for the influence-function methods. */
class ScoreGradientsSettingsTest {

  private static ScoreSettings score(Map<String, String> flags) {
    return Settings.load(Optional.empty(), flags).score();
  }

  @Test
  void default_isAuto_unitForTracInOnly() {
    assertEquals(Gradients.AUTO, score(Map.of()).gradients());
    assertEquals(Method.TRACIN, score(Map.of()).method(), "the default method");
    assertEquals(Gradients.UNIT, score(Map.of()).gradientsInForce());
    for (String m : new String[] {"ekfac", "cg", "lissa"}) {
      assertEquals(Gradients.RAW, score(Map.of("score.method", m)).gradientsInForce(), m);
    }
  }

  @Test
  void explicitChoice_holdsForEveryMethod() {
    for (String m : new String[] {"tracin", "ekfac", "cg", "lissa"}) {
      assertEquals(Gradients.RAW, score(Map.of("score.method", m, "score.gradients", "raw")).gradientsInForce(), m);
      assertEquals(Gradients.UNIT, score(Map.of("score.method", m, "score.gradients", "unit")).gradientsInForce(), m);
    }
  }

  @Test
  void unknownWord_isRefusedNamingTheKeyAndTheChoices() {
    var e = assertThrows(IllegalArgumentException.class, () -> score(Map.of("score.gradients", "cosine")));
    assertTrue(e.getMessage().contains("influence.score.gradients") && e.getMessage().contains("auto")
        && e.getMessage().contains("unit"), e.getMessage());
  }
}
