package io.influence.spark.ihvp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.linalg.BlockLinearOperator;
import io.influence.core.linalg.LinearOperator;
import io.influence.core.solve.LissaScale;
import io.influence.ekfac.Damping;
import io.influence.spark.config.IhvpSettings;
import io.influence.spark.config.Method;
import io.influence.spark.config.Settings;
import io.influence.spark.method.InfluenceMethod;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The {@code ihvp} settings block and the score method switch, read from the layered settings. */
class IhvpSettingsTest {

  private static IhvpSettings read(Map<String, String> overrides) {
    return Settings.load(Optional.empty(), overrides).ihvp();
  }

  @Test
  void from_defaults_ggnLastCheckpointWholeCorpus() {
    IhvpSettings s = read(Map.of());
    assertEquals(IhvpSettings.Curvature.GGN, s.curvature());
    assertEquals(Damping.absolute(0.01), s.damping());
    assertEquals(List.of("step-6"), s.select(List.of("step-3", "step-6")));
    assertEquals(0, s.sampleRows());
    assertFalse(s.requireConvergence());
    var identity = BlockLinearOperator.oneAtATime(new LinearOperator() {
      @Override
      public int dim() {
        return 3;
      }

      @Override
      public void apply(double[] v, double[] out) {
        System.arraycopy(v, 0, out, 0, v.length);
      }
    });
    assertEquals("cg", s.solver(Method.CG, identity).method());
    assertEquals(0.01, s.solver(Method.LISSA, identity).damping());
    assertEquals(LissaScale.Auto.DEFAULT, s.lissa().scale());
    assertEquals(1000, s.cg().maxIterations());
    assertEquals(1e-10, s.cg().tolerance());
    // auto on the identity: 1.5 × (1 + λ)
    assertEquals(1.5 * 1.01, LissaScale.Auto.DEFAULT.resolve(identity, 0.01), 1e-12);
    assertEquals(List.of("step-3", "step-6"), read(Map.of("ihvp.checkpoints", "all")).select(List.of("step-3", "step-6")));
  }

  @Test
  void from_relativeDamping_resolvesToFactorTimesMeanEigenvalue() {
    IhvpSettings s = read(Map.of("ihvp.damping.mode", "relative", "ihvp.damping.value", "0.1",
        "ihvp.trace.probes", "3", "ihvp.trace.seed", "9"));
    assertEquals(Damping.relativeToMean(0.1), s.damping());
    assertEquals(new IhvpSettings.Trace(3, 9), s.trace());
    // Rademacher probes are exact on a diagonal operator: mean eigenvalue (2 + 4 + 6)/3 = 4
    var diag = BlockLinearOperator.oneAtATime(new LinearOperator() {
      @Override
      public int dim() {
        return 3;
      }

      @Override
      public void apply(double[] v, double[] out) {
        for (int i = 0; i < 3; i++) {
          out[i] = 2 * (i + 1) * v[i];
        }
      }
    });
    var resolved = s.resolveDamping(diag);
    assertEquals(0.4, resolved.lambda(), 1e-12);
    assertEquals(3, resolved.trace().probes());
    assertEquals(0.4, s.solver(Method.CG, diag, resolved).damping(), 1e-12);
    // a fixed LiSSA scale is checked against the resolved λ, naming the settings
    IhvpSettings small = read(Map.of("ihvp.damping.mode", "relative", "ihvp.damping.value", "0.1",
        "ihvp.lissa.scale", "0.3"));
    var e = assertThrows(IllegalArgumentException.class, () -> small.solver(Method.LISSA, diag));
    assertTrue(e.getMessage().contains("influence.ihvp.lissa.scale") && e.getMessage().contains("influence.ihvp.damping"),
        e.getMessage());
    // absolute: no product, λ as set
    assertEquals(0.01, read(Map.of()).resolveDamping(diag).lambda(), 0.0);
    assertEquals(null, read(Map.of()).resolveDamping(diag).trace());
  }

  @Test
  void lissaScale_autoOrNumber_typed() {
    assertEquals(LissaScale.Auto.DEFAULT, read(Map.of("ihvp.lissa.scale", "auto")).lissa().scale());
    assertEquals(new LissaScale.Fixed(250.0), read(Map.of("ihvp.lissa.scale", "250")).lissa().scale());
    assertEquals(new LissaScale.Fixed(12.5), read(Map.of("ihvp.lissa.scale", "12.5")).lissa().scale());
  }

  @Test
  void scoreMethod_cgAndLissa_areIterativeSolvesNotEkfac() {
    for (String m : List.of("cg", "lissa")) {
      var s = Settings.load(Optional.empty(), Map.of("score.method", m));
      var method = InfluenceMethod.of(s.score().method(), s);
      assertTrue(method.needsCorpusProducts(), m);
      assertFalse(method.needsFactors(), m);
    }
    var tracin = Settings.load(Optional.empty(), Map.of());
    assertFalse(InfluenceMethod.of(tracin.score().method(), tracin).needsCorpusProducts());
  }

  @Test
  void lissaPreconditioner_defaultNone_ekfacNeedsFactorsAndChebyshev() {
    assertEquals(IhvpSettings.SolvePreconditioner.NONE, read(Map.of()).lissa().preconditioner());
    assertEquals(IhvpSettings.SolvePreconditioner.EKFAC,
        read(Map.of("ihvp.lissa.preconditioner", "ekfac")).lissa().preconditioner());
    var s = Settings.load(Optional.empty(), Map.of("score.method", "lissa", "ihvp.lissa.preconditioner", "ekfac"));
    assertTrue(InfluenceMethod.of(s.score().method(), s).needsFactors(), "run fits EK-FAC first");
    var e = assertThrows(IllegalArgumentException.class, () -> read(Map.of("ihvp.lissa.preconditioner", "ekfac",
        "ihvp.lissa.acceleration", "none")));
    assertTrue(e.getMessage().contains("ihvp.lissa.acceleration = chebyshev"), e.getMessage());
  }

  @Test
  void damping_plainNumber_isAnAbsoluteLambdaAsBeforeTheBlock() {
    assertEquals(Damping.absolute(0.02), read(Map.of("ihvp.damping", "0.02")).damping());
  }

  @ParameterizedTest(name = "{0} = {1}")
  @CsvSource({
      "ihvp.curvature, gauss, influence.ihvp.curvature",
      "ihvp.damping, small, influence.ihvp.damping",
      "ihvp.damping.value, -1, influence.ihvp.damping.value",
      "ihvp.damping.value, abc, ihvp.damping.value",
      "ihvp.damping.mode, relatve, influence.ihvp.damping.mode",
      "ihvp.trace.probes, 0, influence.ihvp.trace.probes",
      "ihvp.trace.seed, x, ihvp.trace.seed",
      "ihvp.checkpoints, first, influence.ihvp.checkpoints",
      "ihvp.batch-size, 0, influence.ihvp.batch-size",
      "ihvp.sample-rows, -5, influence.ihvp.sample-rows",
      "ihvp.partitions, -1, influence.ihvp.partitions",
      "ihvp.cg.max-iterations, 0, influence.ihvp.cg.max-iterations",
      "ihvp.cg.tolerance, -1e-6, influence.ihvp.cg.tolerance",
      "ihvp.lissa.scale, 0.005, influence.ihvp.lissa.scale",
      "ihvp.lissa.scale, automatic, influence.ihvp.lissa.scale",
      "ihvp.lissa.scale, -2, influence.ihvp.lissa.scale",
      "ihvp.lissa.depth, 0, influence.ihvp.lissa.depth",
      "ihvp.lissa.repetitions, 0, influence.ihvp.lissa.repetitions",
      "ihvp.require-convergence, maybe, ihvp.require-convergence"})
  void from_badValue_failsNamingTheSetting(String key, String value, String named) {
    var e = assertThrows(IllegalArgumentException.class, () -> read(Map.of(key, value)));
    assertTrue(e.getMessage().contains(named), e.getMessage());
  }

  @Test
  void method_unknownOrIterativeOutsideScore_failsNamingTheChoices() {
    var unknown = assertThrows(IllegalArgumentException.class, () ->
        Settings.load(Optional.empty(), Map.of("score.method", "newton")));
    assertTrue(unknown.getMessage().contains("influence.score.method") && unknown.getMessage().contains("\"lissa\""),
        unknown.getMessage());
    var self = assertThrows(IllegalArgumentException.class, () ->
        Settings.load(Optional.empty(), Map.of("self-influence.method", "cg")));
    assertTrue(self.getMessage().contains("influence.self-influence.method") && self.getMessage().contains("score"),
        self.getMessage());
  }
}
