package io.influence.core.representer;

import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Fits the output head to the stationary point that the representer theorem needs: minimises
 * <pre>  J(W) = (1/n) Σ_t CE(W f_t, y_t) + λ‖W‖²_F     over W ∈ R^{V×d} (the heads here have no bias)</pre>
 * starting from the checkpoint's head, with the features {@code f_t} fixed (the rest of the model frozen). A tied
 * head (GPT-2's {@code wte}) becomes a separate, untied matrix: the embeddings are not changed.
 *
 * <p>Solver: Newton-CG (truncated Newton) in float64. {@code J} is smooth and {@code 2λ}-strongly convex, so Newton
 * converges quadratically near the optimum and reaches a gradient at float64 rounding level in a handful of outer
 * iterations, where gradient descent would need a number of steps that grows with the condition number (large for
 * a small {@code λ}), and L-BFGS only converges superlinearly. The Hessian is never formed: a Hessian-vector product
 * {@code H D = (1/n) Σ_t (diag(p_t) − p_t p_tᵀ)(D f_t) f_tᵀ + 2λD} costs two GEMMs over the tokens. Each outer step
 * solves {@code H s = −∇J} by CG to a relative residual {@code min(0.5, √(‖∇J‖/‖∇J₀‖))} (Eisenstat–Walker forcing),
 * preconditioned by the Hessian's diagonal blocks per vocabulary row ({@code d × d} each, block Jacobi, while
 * {@code V·d²} doubles fit in 256 MiB: with a small {@code λ} plain CG needed hundreds of products per step), then
 * takes the largest step {@code 2^{-k}} that satisfies Armijo's condition or lowers {@code ‖∇J‖} (near the optimum
 * {@code J} changes below float64 resolution, so the gradient norm decides).
 *
 * <p>Stop rule: the theorem's own error. At any {@code W}, {@code W − Σ_t α_t f_tᵀ = ∇J / (2λ)} (with {@code α_t}
 * from that {@code W}), so the fit stops when {@code ‖∇J‖ / (2λ‖W‖) ≤ tolerance}: the relative error of the
 * decomposition of the head itself.
 *
 * <p>Memory: the softmax probabilities of every training token are kept during an outer step ({@code n·V} doubles);
 * fine for the corpora the driver can hold the features of.
 */
public final class HeadFit {

  private static final int BLOCK = 4096;
  private static final int MAX_CG = 500;
  /** Doubles the block-Jacobi preconditioner may hold ({@code V·d²}); above, CG runs unpreconditioned. */
  private static final long MAX_PRECONDITIONER = 1L << 25;

  private HeadFit() {}

  /**
   * What the fit produced.
   *
   * @param head             the fitted head
   * @param iterations       Newton steps taken
   * @param cgIterations     Hessian-vector products used in all
   * @param objective        {@code J(W*)}
   * @param relativeResidual {@code ‖∇J‖ / (2λ‖W*‖)} at the end
   * @param converged        whether {@code relativeResidual ≤ tolerance}
   */
  public record Result(RepresenterHead head, int iterations, int cgIterations, double objective,
                       double relativeResidual, boolean converged) {}

  /**
   * Fits from {@code initial} ({@code [V, d]}, any float type, not modified) on {@code train}'s tokens.
   *
   * @param lambda        L2 coefficient, {@code > 0}
   * @param tolerance     stop when {@code ‖∇J‖ / (2λ‖W‖) ≤ tolerance}, {@code > 0}
   * @param maxIterations Newton steps at most
   */
  public static Result fit(TokenFeatures train, INDArray initial, double lambda, double tolerance, int maxIterations) {
    if (!(lambda > 0) || !Double.isFinite(lambda)) {
      throw new IllegalArgumentException("lambda must be finite and > 0, got " + lambda);
    }
    if (!(tolerance > 0)) {
      throw new IllegalArgumentException("tolerance must be > 0, got " + tolerance);
    }
    if (train.size() == 0) {
      throw new IllegalArgumentException("no training tokens to fit the head on");
    }
    if (initial.rank() != 2 || initial.columns() != train.dim()) {
      throw new IllegalArgumentException("initial head has shape " + java.util.Arrays.toString(initial.shape())
          + ", expected [V, " + train.dim() + "]");
    }
    for (int y : train.targets()) {
      if (y < 0 || y >= initial.rows()) {
        throw new IllegalArgumentException("target token " + y + " is outside the head's vocabulary of "
            + initial.rows());
      }
    }
    Problem p = new Problem(train, lambda);
    INDArray w = initial.castTo(DataType.DOUBLE).dup('c');
    Eval e = p.eval(w);
    double g0 = e.gradNorm;
    int it = 0;
    int cg = 0;
    while (residual(e, w, lambda) > tolerance && it < maxIterations) {
      // truncated CG on H s = −g, preconditioned by the per-row blocks of H
      double eta = Math.min(0.5, Math.sqrt(e.gradNorm / g0));
      BlockJacobi m = p.blockJacobi(e.probs);
      INDArray s = Nd4j.zerosLike(w);
      INDArray r = e.grad.neg();
      INDArray z = m == null ? r.dup() : m.apply(r);
      INDArray d = z.dup();
      double rz = dot(r, z);
      for (int k = 0; k < MAX_CG; k++) {
        INDArray hd = p.hvp(e.probs, d);
        cg++;
        double dHd = dot(d, hd);
        if (!(dHd > 0)) {
          close(hd);
          break;
        }
        double a = rz / dHd;
        axpy(a, d, s);
        axpy(-a, hd, r);
        close(hd);
        if (Math.sqrt(sq(r)) <= eta * e.gradNorm) {
          break;
        }
        close(z);
        z = m == null ? r.dup() : m.apply(r);
        double rzNew = dot(r, z);
        d.muli(rzNew / rz).addi(z);
        rz = rzNew;
      }
      close(r, z, d);
      double slope = dot(e.grad, s);
      double t = 1;
      Eval next = null;
      for (int k = 0; k < 40; k++) {
        INDArray wt = w.dup();
        axpy(t, s, wt);
        Eval cand = p.eval(wt);
        if (cand.objective <= e.objective + 1e-4 * t * slope || cand.gradNorm < e.gradNorm) {
          next = cand;
          close(w);
          w = wt;
          break;
        }
        close(cand);
        close(wt);
        t /= 2;
      }
      close(s);
      it++;
      if (next == null) {
        break;   // no step helps: at float64 resolution
      }
      close(e);
      e = next;
    }
    double res = residual(e, w, lambda);
    RepresenterHead head = new RepresenterHead((int) w.rows(), train.dim(), w.dup('c').data().asDouble(), lambda,
        train.size());
    close(e);
    p.blocks.forEach(HeadFit::close);
    return new Result(head, it, cg, e.objective, res, res <= tolerance);
  }

  private static double dot(INDArray x, INDArray y) {
    INDArray t = x.mul(y);
    double v = t.sumNumber().doubleValue();
    close(t);
    return v;
  }

  /** {@code y += a·x}. */
  private static void axpy(double a, INDArray x, INDArray y) {
    INDArray t = x.mul(a);
    y.addi(t);
    close(t);
  }

  private static double sq(INDArray x) {
    double n = x.norm2Number().doubleValue();
    return n * n;
  }

  private static double residual(Eval e, INDArray w, double lambda) {
    double wn = w.norm2Number().doubleValue();
    return e.gradNorm / (2 * lambda * Math.max(wn, Double.MIN_NORMAL));
  }

  /** {@code J}, {@code ∇J} and the probabilities per token block at one {@code W}. */
  private record Eval(double objective, INDArray grad, double gradNorm, List<INDArray> probs) {}

  /** The objective over fixed features, evaluated block by block of {@value #BLOCK} tokens. */
  private static final class Problem {
    final List<INDArray> blocks = new ArrayList<>();
    final List<int[]> targets = new ArrayList<>();
    final double lambda;
    final long n;

    Problem(TokenFeatures train, double lambda) {
      INDArray f = train.matrix();
      int n = train.size();
      for (int start = 0; start < n; start += BLOCK) {
        int end = Math.min(n, start + BLOCK);
        blocks.add(f.get(NDArrayIndex.interval(start, end), NDArrayIndex.all()).dup('c'));
        targets.add(java.util.Arrays.copyOfRange(train.targets(), start, end));
      }
      this.lambda = lambda;
      this.n = n;
    }

    Eval eval(INDArray w) {
      INDArray grad = w.mul(2 * lambda);
      double loss = 0;
      List<INDArray> probs = new ArrayList<>();
      for (int b = 0; b < blocks.size(); b++) {
        INDArray f = blocks.get(b);
        int[] y = targets.get(b);
        INDArray z = f.mmul(w.transpose());
        INDArray max = z.max(true, 1);
        z.subiColumnVector(max);
        INDArray p = Transforms.exp(z, true);
        INDArray sum = p.sum(true, 1);
        for (int t = 0; t < y.length; t++) {
          loss += Math.log(sum.getDouble(t, 0)) - z.getDouble(t, y[t]);
        }
        close(z, max);
        p.diviColumnVector(sum);
        sum.close();
        probs.add(p);
        INDArray resid = p.dup();
        for (int t = 0; t < y.length; t++) {
          resid.putScalar(t, y[t], resid.getDouble(t, y[t]) - 1);
        }
        INDArray g = resid.transpose().mmul(f);
        grad.addi(g.muli(1.0 / n));
        close(g, resid);
      }
      double objective = loss / n + lambda * sq(w);
      return new Eval(objective, grad, grad.norm2Number().doubleValue(), probs);
    }

    /**
     * The preconditioner: the diagonal blocks {@code H_vv = (1/n) Σ_t p_tv (1 − p_tv) f_t f_tᵀ + 2λI} ({@code d × d},
     * one per vocabulary row), all from one GEMM {@code Wᵀ K} per token block with {@code K} the rows
     * {@code f_t ⊗ f_t}, then Cholesky-factored.
     */
    BlockJacobi blockJacobi(List<INDArray> probs) {
      int d = (int) blocks.get(0).columns();
      int vocab = (int) probs.get(0).columns();
      if ((long) vocab * d * d > MAX_PRECONDITIONER) {
        return null;   // the blocks would not fit: plain CG
      }
      INDArray sum = Nd4j.zeros(DataType.DOUBLE, vocab, (long) d * d);
      int rows = (int) Math.max(1, Math.min(BLOCK, MAX_PRECONDITIONER / 8 / ((long) d * d)));
      for (int b = 0; b < blocks.size(); b++) {
        double[] f = blocks.get(b).dup('c').data().asDouble();
        INDArray p = probs.get(b);
        INDArray weights = p.rsub(1.0).muli(p).muli(1.0 / n);   // [m, V]
        int m = f.length / d;
        for (int start = 0; start < m; start += rows) {
          int end = Math.min(m, start + rows);
          double[] k = new double[(end - start) * d * d];
          for (int t = start; t < end; t++) {
            for (int i = 0; i < d; i++) {
              double fi = f[t * d + i];
              int at = (t - start) * d * d + i * d;
              for (int j = 0; j < d; j++) {
                k[at + j] = fi * f[t * d + j];
              }
            }
          }
          INDArray wb = weights.get(NDArrayIndex.interval(start, end), NDArrayIndex.all()).dup('c');
          INDArray kb = Nd4j.create(k, new long[] {end - start, (long) d * d}, 'c');
          INDArray prod = wb.transpose().mmul(kb);
          sum.addi(prod);
          close(prod, kb, wb);
        }
        weights.close();
      }
      double[] all = sum.dup('c').data().asDouble();
      sum.close();
      return new BlockJacobi(all, vocab, d, 2 * lambda);
    }

    INDArray hvp(List<INDArray> probs, INDArray d) {
      INDArray out = d.mul(2 * lambda);
      for (int b = 0; b < blocks.size(); b++) {
        INDArray f = blocks.get(b);
        INDArray p = probs.get(b);
        INDArray pu = f.mmul(d.transpose()).muli(p);
        INDArray rowSums = pu.sum(true, 1);
        INDArray pr = p.mulColumnVector(rowSums);
        pu.subi(pr);
        INDArray g = pu.transpose().mmul(f);
        out.addi(g.muli(1.0 / n));
        close(g, pr, rowSums, pu);
      }
      return out;
    }
  }

  /**
   * Frees the off-heap memory of temporaries now: with a large Java heap the garbage collector runs too seldom to
   * release ND4J's buffers of {@code n × V} doubles in time.
   */
  private static void close(INDArray... arrays) {
    for (INDArray a : arrays) {
      if (a != null && a.closeable()) {
        a.close();
      }
    }
  }

  private static void close(Eval e) {
    close(e.grad);
    e.probs.forEach(HeadFit::close);
  }

  /** {@code M⁻¹ r} with {@code M} block-diagonal over the rows of {@code W}: one Cholesky solve per row. */
  private static final class BlockJacobi {
    private final double[] chol;   // per row v, the lower Cholesky factor of its d × d block, row-major
    private final int vocab;
    private final int d;

    BlockJacobi(double[] blocks, int vocab, int d, double shift) {
      this.vocab = vocab;
      this.d = d;
      this.chol = blocks;
      for (int v = 0; v < vocab; v++) {
        int o = v * d * d;
        for (int i = 0; i < d; i++) {
          chol[o + i * d + i] += shift;
        }
        for (int j = 0; j < d; j++) {
          double diag = chol[o + j * d + j];
          for (int k = 0; k < j; k++) {
            diag -= chol[o + j * d + k] * chol[o + j * d + k];
          }
          diag = Math.sqrt(diag);
          chol[o + j * d + j] = diag;
          for (int i = j + 1; i < d; i++) {
            double x = chol[o + i * d + j];
            for (int k = 0; k < j; k++) {
              x -= chol[o + i * d + k] * chol[o + j * d + k];
            }
            chol[o + i * d + j] = x / diag;
          }
        }
      }
    }

    INDArray apply(INDArray r) {
      double[] x = r.dup('c').data().asDouble();
      for (int v = 0; v < vocab; v++) {
        int o = v * d * d;
        int row = v * d;
        for (int i = 0; i < d; i++) {       // L y = r
          double s = x[row + i];
          for (int k = 0; k < i; k++) {
            s -= chol[o + i * d + k] * x[row + k];
          }
          x[row + i] = s / chol[o + i * d + i];
        }
        for (int i = d - 1; i >= 0; i--) {  // Lᵀ z = y
          double s = x[row + i];
          for (int k = i + 1; k < d; k++) {
            s -= chol[o + k * d + i] * x[row + k];
          }
          x[row + i] = s / chol[o + i * d + i];
        }
      }
      return Nd4j.create(x, new long[] {vocab, d}, 'c');
    }
  }
}
