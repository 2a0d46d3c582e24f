package io.influence.spark.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

/** Each method's damping in the report's provenance, from the score rows' damping columns. */
class DampingTextTest {

  private static String of(String json) throws Exception {
    return DampingText.of(new ObjectMapper().readTree(json));
  }

  @Test
  void of_ekfacRelative_showsFactorAndResolvedRangeNotAnAbsoluteLambda() throws Exception {
    assertEquals("relative: λ = 0.1000 × mean eigenvalue → λ = 0.002000 to 0.03000 (2 blocks)",
        of("{\"damping\": 0.1, \"damping_mode\": \"relative\", \"damping_lambda\": "
            + "{\"step-6/h.0.mlp.c_fc\": 0.002, \"step-6/h.1.mlp.c_fc\": 0.03}}"));
  }

  @Test
  void of_cgAbsoluteOrRelative_showsItsOwnDamping() throws Exception {
    assertEquals("absolute: λ = 0.01000",
        of("{\"damping\": 0.01, \"damping_mode\": \"absolute\", \"damping_lambda\": {\"step-6\": 0.01}}"));
    assertEquals("relative: λ = 0.1000 × mean eigenvalue → λ = 0.004200 (1 block)",
        of("{\"damping\": 0.1, \"damping_mode\": \"relative\", \"damping_lambda\": {\"step-6\": 0.0042}}"));
  }

  @Test
  void of_tracinOrOldRows_noneOrValueNamedAsUnknownMode() throws Exception {
    assertNull(of("{\"damping\": null}"));
    assertEquals("value 0.1000 (mode not recorded)", of("{\"damping\": 0.1}"));
  }
}
