package io.influence.core.solve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.linalg.BlockLinearOperator;
import io.influence.core.linalg.LinearOperator;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The block (multi-right-hand-side) solvers against the single-right-hand-side ones: every system's iterate,
 * iteration count, residual and convergence flag equal {@code solve(h, b_j)} bit for bit, while the operator is
 * called once per iteration of the slowest system (plus one for the residuals).
 */
class BlockSolverTest {

  /** A random SPD matrix {@code m = Σ_e eig_e q_e q_eᵀ} with eigenvalues spread over [0.01, 4] and its eigenvectors. */
  private record Spd(double[][] m, double[][] q) {}

  private static Spd spd(int n, long seed) {
    Random rnd = new Random(seed);
    double[][] a = new double[n][n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        a[i][j] = rnd.nextGaussian();
      }
    }
    // Gram-Schmidt for Q
    for (int i = 0; i < n; i++) {
      for (int p = 0; p < i; p++) {
        double d = 0;
        for (int j = 0; j < n; j++) {
          d += a[i][j] * a[p][j];
        }
        for (int j = 0; j < n; j++) {
          a[i][j] -= d * a[p][j];
        }
      }
      double s = 0;
      for (int j = 0; j < n; j++) {
        s += a[i][j] * a[i][j];
      }
      for (int j = 0; j < n; j++) {
        a[i][j] /= Math.sqrt(s);
      }
    }
    double[][] m = new double[n][n];
    for (int e = 0; e < n; e++) {
      double lambda = 0.01 * Math.pow(400, e / (n - 1.0));
      for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
          m[i][j] += lambda * a[e][i] * a[e][j];
        }
      }
    }
    return new Spd(m, a);
  }

  /** The dense matrix as an operator that counts its calls. */
  private static final class Dense implements LinearOperator {
    final double[][] m;
    int calls;

    Dense(double[][] m) {
      this.m = m;
    }

    @Override
    public int dim() {
      return m.length;
    }

    @Override
    public void apply(double[] v, double[] out) {
      calls++;
      for (int i = 0; i < m.length; i++) {
        double s = 0;
        for (int j = 0; j < m.length; j++) {
          s += m[i][j] * v[j];
        }
        out[i] = s;
      }
    }
  }

  /** The block form of {@code d}, counting block calls. */
  private static final class Counting implements BlockLinearOperator {
    final BlockLinearOperator inner;
    int calls;
    int vectors;

    Counting(LinearOperator d) {
      inner = BlockLinearOperator.oneAtATime(d);
    }

    @Override
    public int dim() {
      return inner.dim();
    }

    @Override
    public void apply(double[][] vs, double[][] outs) {
      calls++;
      vectors += vs.length;
      inner.apply(vs, outs);
    }
  }

  /**
   * Four right-hand sides that stop at different iterations: random, a rescaled noisy copy, one in the span of
   * three eigenvectors (CG converges in 3 steps), zero.
   */
  private static List<double[]> rightHandSides(Spd a, int n) {
    Random rnd = new Random(11);
    double[] b0 = new double[n];
    double[] b1 = new double[n];
    double[] b2 = new double[n];
    for (int i = 0; i < n; i++) {
      b0[i] = rnd.nextGaussian();
      b1[i] = 1e3 * b0[i] + rnd.nextGaussian();
    }
    for (int i = 0; i < n; i++) {
      b2[i] = a.q()[0][i] + 2 * a.q()[n / 2][i] - a.q()[n - 1][i];
    }
    return List.of(b0, b1, b2, new double[n]);
  }

  private static void assertSame(SolveResult single, SolveResult block, String what) {
    assertArrayEquals(single.x(), block.x(), 0.0, what + ": iterate");
    assertEquals(single.iterations(), block.iterations(), what + ": iterations");
    assertEquals(single.relativeResidual(), block.relativeResidual(), 0.0, what + ": residual");
    assertEquals(single.converged(), block.converged(), what + ": converged");
  }

  @Test
  void conjugateGradientSolveAll_fourSystems_equalsSingleSolvesBitForBit() {
    int n = 40;
    Spd a = spd(n, 5);
    double[][] m = a.m();
    List<double[]> bs = rightHandSides(a, n);
    for (int maxIterations : new int[] {200, 12}) {
      IhvpSolver cg = IhvpSolver.conjugateGradient(0.05, 1e-10, maxIterations);
      Counting block = new Counting(new Dense(m));
      List<SolveResult> all = cg.solveAll(block, bs);
      int slowest = 0;
      for (int j = 0; j < bs.size(); j++) {
        SolveResult single = cg.solve(new Dense(m), bs.get(j));
        assertSame(single, all.get(j), "cg system " + j + ", max " + maxIterations);
        slowest = Math.max(slowest, single.iterations());
      }
      assertEquals(slowest + 1, block.calls, "one block product per iteration of the slowest system, plus residuals");
      assertTrue(all.stream().map(SolveResult::iterations).distinct().count() >= 3,
          "systems should leave the block at different iterations: " + all.stream().map(SolveResult::iterations).toList());
      if (maxIterations == 200) {
        assertTrue(all.get(0).converged() && all.get(0).relativeResidual() < 1e-9, "residual " + all.get(0));
      } else {
        assertFalse(all.get(0).converged(), "12 iterations are too few for condition number 8000");
      }
      assertEquals(0, all.get(3).iterations());
      assertTrue(all.get(3).converged());
    }
  }

  @Test
  void lissaSolveAll_repetitionsAndDepthLimit_equalsSingleSolvesBitForBit() {
    int n = 12;
    Spd a = spd(n, 9);
    double[][] m = a.m();
    List<double[]> bs = rightHandSides(a, n);
    for (int depth : new int[] {400, 15}) {
     for (LissaAcceleration acceleration : LissaAcceleration.values()) {
      IhvpSolver lissa = IhvpSolver.lissa(0.5, 6.0, depth, 2, 1e-9, acceleration);
      Counting block = new Counting(new Dense(m));
      List<SolveResult> all = lissa.solveAll(block, bs);
      int slowest = 0;
      for (int j = 0; j < bs.size(); j++) {
        SolveResult single = lissa.solve(new Dense(m), bs.get(j));
        assertSame(single, all.get(j), "lissa system " + j + ", depth " + depth + ", " + acceleration);
        slowest = Math.max(slowest, single.iterations());
      }
      assertEquals(slowest + 1, block.calls);
      assertTrue(all.stream().map(SolveResult::iterations).distinct().count() >= 2,
          "systems should leave the block at different steps: " + all.stream().map(SolveResult::iterations).toList());
      assertEquals(depth == 400, all.get(0).converged(), "depth " + depth + ", " + acceleration);
     }
    }
  }

  @Test
  void solveAll_nanInOneSystem_throwsNamingSystemAndIteration() {
    int n = 6;
    double[][] m = spd(n, 1).m();
    BlockLinearOperator poisoned = new BlockLinearOperator() {
      int calls;

      @Override
      public int dim() {
        return n;
      }

      @Override
      public void apply(double[][] vs, double[][] outs) {
        BlockLinearOperator.oneAtATime(new Dense(m)).apply(vs, outs);
        if (++calls == 3) {
          outs[1][2] = Double.NaN;
        }
      }
    };
    List<double[]> bs = List.of(new double[] {1, 0, 0, 0, 0, 0}, new double[] {0, 1, 1, 0, 0, 0});
    var e = assertThrows(IllegalStateException.class,
        () -> IhvpSolver.conjugateGradient(0.1, 0, 50).solveAll(poisoned, bs));
    assertTrue(e.getMessage().contains("system 1") && e.getMessage().contains("iteration 3"), e.getMessage());
    List<double[]> bad = new ArrayList<>(bs);
    bad.add(new double[] {1, Double.POSITIVE_INFINITY, 0, 0, 0, 0});
    var input = assertThrows(IllegalStateException.class,
        () -> IhvpSolver.lissa(0.1, 10, 5, 1, 0).solveAll(BlockLinearOperator.oneAtATime(new Dense(m)), bad));
    assertTrue(input.getMessage().contains("right-hand side 2"), input.getMessage());
    var length = assertThrows(IllegalArgumentException.class, () -> IhvpSolver.conjugateGradient(0.1, 0, 5)
        .solveAll(BlockLinearOperator.oneAtATime(new Dense(m)), List.of(new double[5])));
    assertTrue(length.getMessage().contains("right-hand side 0 has length 5"), length.getMessage());
  }
}
