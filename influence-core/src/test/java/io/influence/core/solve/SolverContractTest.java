package io.influence.core.solve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.linalg.LinearOperator;
import io.influence.core.truth.DenseMath;
import io.influence.core.score.LayerLayout;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Reporting of iterations, residuals and non-convergence; NaN/Inf handling; the layer flattening of the adapter. */
class SolverContractTest {

  private static final double TOLERANCE = 1e-12;

  /** diag(1, 2, ..., n): an operator whose solve is known in closed form. */
  private static LinearOperator diagonal(int n) {
    return new LinearOperator() {
      @Override
      public int dim() {
        return n;
      }

      @Override
      public void apply(double[] v, double[] out) {
        for (int i = 0; i < n; i++) {
          out[i] = (i + 1) * v[i];
        }
      }
    };
  }

  /** diag(1..n) but NaN from the given call on. */
  private static LinearOperator nanFromCall(int n, int call) {
    LinearOperator d = diagonal(n);
    return new LinearOperator() {
      int calls;

      @Override
      public int dim() {
        return n;
      }

      @Override
      public void apply(double[] v, double[] out) {
        d.apply(v, out);
        if (++calls >= call) {
          out[1] = Double.NaN;
        }
      }
    };
  }

  private static double[] ones(int n) {
    double[] b = new double[n];
    java.util.Arrays.fill(b, 1);
    return b;
  }

  @Test
  void conjugateGradient_diagonalOperator_solvesInAtMostDimIterations() {
    double lambda = 0.5;
    SolveResult r = IhvpSolver.conjugateGradient(lambda, TOLERANCE, 100).solve(diagonal(6), ones(6));
    assertTrue(r.converged());
    // at most dim CG updates, plus the one product that checks the true residual
    assertTrue(r.iterations() <= 6 + 1, "products " + r.iterations());
    assertTrue(r.relativeResidual() <= 1e-10);
    for (int i = 0; i < 6; i++) {
      assertEquals(1 / (i + 1 + lambda), r.x()[i], 1e-12);
    }
  }

  @Test
  void conjugateGradient_tooFewIterations_reportsNotConvergedWithResidual() {
    SolveResult r = IhvpSolver.conjugateGradient(0.0, TOLERANCE, 2).solve(diagonal(20), ones(20));
    assertFalse(r.converged());
    assertEquals(2, r.iterations());
    assertTrue(r.relativeResidual() > 1e-3, "residual " + r.relativeResidual());
  }

  @Test
  void conjugateGradient_zeroRightHandSide_returnsZeroConverged() {
    SolveResult r = IhvpSolver.conjugateGradient(0.1, TOLERANCE, 5).solve(diagonal(3), new double[3]);
    assertTrue(r.converged());
    assertEquals(0, r.iterations());
    assertArrayEquals(new double[3], r.x());
  }

  @Test
  void conjugateGradient_indefiniteOperator_stopsAndReportsNotConverged() {
    // diag(1..4) − 3I has eigenvalues −2, −1, 0, 1: not positive definite, so CG meets pᵀAp <= 0
    LinearOperator d = diagonal(4);
    LinearOperator indefinite = new LinearOperator() {
      @Override
      public int dim() {
        return 4;
      }

      @Override
      public void apply(double[] v, double[] out) {
        d.apply(v, out);
        for (int i = 0; i < 4; i++) {
          out[i] -= 3 * v[i];
        }
      }
    };
    SolveResult r = IhvpSolver.conjugateGradient(0.0, TOLERANCE, 50).solve(indefinite, ones(4));
    assertFalse(r.converged());
    assertTrue(r.iterations() < 50, "iterations " + r.iterations());
  }

  @Test
  void lissa_scaleBelowLargestEigenvalue_reportsNotConverged() {
    SolveResult r = IhvpSolver.lissa(0.0, 4.0, 50, 1, 1e-10).solve(diagonal(10), ones(10));
    assertFalse(r.converged());
    // the step grows past 2‖b‖ within a few iterations (even undamped): stopped as diverged, not run to depth
    assertTrue(r.diverged(), "diverged");
    assertTrue(r.iterations() < 50, "iterations " + r.iterations());
    assertTrue(r.relativeResidual() > 1, "residual " + r.relativeResidual());
  }

  @Test
  void lissa_diagonalOperator_convergesToClosedForm() {
    double lambda = 0.5;
    SolveResult r = IhvpSolver.lissa(lambda, 8.0, 10_000, 2, 1e-13).solve(diagonal(6), ones(6));
    assertTrue(r.converged());
    for (int i = 0; i < 6; i++) {
      assertEquals(1 / (i + 1 + lambda), r.x()[i], 1e-10);
    }
  }

  @Test
  void conjugateGradient_nanFromOperator_throwsNamingIteration() {
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> IhvpSolver.conjugateGradient(0.1, TOLERANCE, 50).solve(nanFromCall(8, 3), ones(8)));
    assertTrue(e.getMessage().contains("iteration 3"), e.getMessage());
  }

  @Test
  void lissa_nanFromOperator_throwsNamingIteration() {
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> IhvpSolver.lissa(0.1, 10, 50, 1, 0).solve(nanFromCall(8, 4), ones(8)));
    assertTrue(e.getMessage().contains("iteration 4"), e.getMessage());
  }

  @Test
  void solve_infiniteInput_throwsNamingInput() {
    double[] b = ones(4);
    b[2] = Double.POSITIVE_INFINITY;
    for (IhvpSolver s : List.of(IhvpSolver.conjugateGradient(0.1, TOLERANCE, 5), IhvpSolver.lissa(0.1, 10, 5, 1, 0))) {
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> s.solve(diagonal(4), b));
      assertTrue(e.getMessage().contains("iteration 0 (the input)"), e.getMessage());
    }
  }

  @Test
  void solve_wrongLength_throwsIllegalArgument() {
    assertThrows(IllegalArgumentException.class,
        () -> IhvpSolver.conjugateGradient(0.1, TOLERANCE, 5).solve(diagonal(4), ones(3)));
  }

  @Test
  void inverseHvpPreconditioner_twoLayers_flattensInLayerOrderAndRestoresShapes() {
    // layer "b" first in the layout although the map lists "a" first; operator diag(1..10) + λ on the flat vector
    Map<String, long[]> shapes = new LinkedHashMap<>();
    shapes.put("b", new long[] {2, 3});
    shapes.put("a", new long[] {1, 4});
    LayerLayout layout = LayerLayout.of(List.of("b", "a"), shapes);
    Map<String, INDArray> g = new LinkedHashMap<>();
    g.put("a", Nd4j.create(new float[] {1, 2, 3, 4}, new long[] {1, 4}, 'c'));
    g.put("b", Nd4j.create(new float[] {5, 6, 7, 8, 9, 10}, new long[] {2, 3}, 'c'));
    InverseHvpPreconditioner pre = InverseHvpPreconditioner.of(IhvpSolver.conjugateGradient(1.0, TOLERANCE, 50),
        diagonal(10), layout, true);
    assertEquals("cg", pre.method());
    Map<String, INDArray> out = pre.apply(g);
    assertEquals(DataType.FLOAT, out.get("a").dataType());
    assertArrayEquals(new long[] {2, 3}, out.get("b").shape());
    // flat index k holds (k+1)+1 on the diagonal: b occupies 0..5, a 6..9
    for (int k = 0; k < 6; k++) {
      assertEquals((5 + k) / (k + 2.0), out.get("b").getDouble(k / 3, k % 3), 1e-6);
    }
    for (int k = 0; k < 4; k++) {
      assertEquals((1 + k) / (k + 8.0), out.get("a").getDouble(0, k), 1e-6);
    }
  }

  @Test
  void inverseHvpPreconditioner_requireConvergenceAndNotConverged_throws() {
    LayerLayout layout = LayerLayout.of(List.of("w"), Map.of("w", new long[] {4, 5}));
    InverseHvpPreconditioner pre = InverseHvpPreconditioner.of(IhvpSolver.conjugateGradient(0.0, TOLERANCE, 1),
        diagonal(20), layout, true);
    Map<String, INDArray> g = Map.of("w", Nd4j.ones(DataType.DOUBLE, 4, 5));
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> pre.apply(g));
    assertTrue(e.getMessage().contains("did not converge"), e.getMessage());
    assertFalse(pre.solve("q", g).result().converged());
  }

  @Test
  void inverseHvpPreconditioner_missingLayer_throwsNamingIt() {
    LayerLayout layout = LayerLayout.of(List.of("w", "v"), Map.of("w", new long[] {1, 2}, "v", new long[] {1, 2}));
    InverseHvpPreconditioner pre = InverseHvpPreconditioner.of(IhvpSolver.conjugateGradient(0.1, TOLERANCE, 5),
        diagonal(4), layout, false);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> pre.apply(Map.of("w", Nd4j.ones(DataType.DOUBLE, 1, 2))));
    assertTrue(e.getMessage().contains("missing [v]"), e.getMessage());
  }

  @Test
  void identityPreconditioner_apply_returnsSameArraysUnderTracinName() {
    INDArray w = Nd4j.ones(DataType.FLOAT, 2, 2);
    Map<String, INDArray> out = IdentityPreconditioner.create().apply(Map.of("w", w));
    assertEquals("tracin", IdentityPreconditioner.create().method());
    assertSame(w, out.get("w"));
  }

  @Test
  void denseMath_choleskySolve_satisfiesSystem() {
    double[][] m = DenseMath.matrix(diagonal(5));
    m[0][1] = m[1][0] = 0.3;
    double[] x = DenseMath.solve(m, 0.2, ones(5));
    for (int i = 0; i < 5; i++) {
      double s = 0.2 * x[i];
      for (int j = 0; j < 5; j++) {
        s += m[i][j] * x[j];
      }
      assertEquals(1.0, s, 1e-12);
    }
  }
}
