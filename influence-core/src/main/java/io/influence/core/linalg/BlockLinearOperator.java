package io.influence.core.linalg;

/**
 * A symmetric linear map {@code v -> M v} on {@code R^dim} applied to a block of vectors at once:
 * {@code outs[j] = M vs[j]} for every {@code j}. For operators whose cost is dominated by a fixed
 * per-call overhead (a pass over a distributed corpus, a broadcast), one call for k vectors is much
 * cheaper than k calls; the block solvers ({@code IhvpSolver#solveAll}) advance k independent systems
 * with one call per iteration.
 *
 * <p>Implementations must not keep references to the arrays; every {@code outs[j]} is overwritten,
 * and no {@code outs[j]} is the same array as any {@code vs[i]}. The product of a vector must not
 * depend on the other vectors of the block (the systems are independent).
 */
public interface BlockLinearOperator {

  /** Dimension of the space the operator acts on. */
  int dim();

  /**
   * Writes {@code M vs[j]} into {@code outs[j]}; {@code vs.length == outs.length >= 1}, every array of
   * length {@link #dim()}.
   */
  void apply(double[][] vs, double[][] outs);

  /** The block form of {@code op}: one {@link LinearOperator#apply} per vector. */
  static BlockLinearOperator oneAtATime(LinearOperator op) {
    return new BlockLinearOperator() {
      @Override
      public int dim() {
        return op.dim();
      }

      @Override
      public void apply(double[][] vs, double[][] outs) {
        BlockLinearOperator.checkBlock(this, vs, outs);
        for (int j = 0; j < vs.length; j++) {
          op.apply(vs[j], outs[j]);
        }
      }
    };
  }

  /** Throws IllegalArgumentException unless {@code vs} and {@code outs} are a valid block for {@code op}. */
  static void checkBlock(BlockLinearOperator op, double[][] vs, double[][] outs) {
    if (vs.length == 0 || vs.length != outs.length) {
      throw new IllegalArgumentException("a block product needs as many outputs as vectors (at least one), got "
          + vs.length + " vectors and " + outs.length + " outputs");
    }
    for (int j = 0; j < vs.length; j++) {
      if (vs[j].length != op.dim() || outs[j].length != op.dim()) {
        throw new IllegalArgumentException("vector " + j + " of the block has lengths " + vs[j].length + " and "
            + outs[j].length + " but the operator has dimension " + op.dim());
      }
    }
  }
}
