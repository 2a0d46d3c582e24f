/**
 * Matrix-free linear operators: a symmetric map known only by its action, which is how the
 * inverse-Hessian solvers of {@code solve} see a Hessian or Gauss-Newton matrix.
 * {@link io.influence.core.linalg.LinearOperator} applies it to one vector;
 * {@link io.influence.core.linalg.BlockLinearOperator} to a block of independent vectors in one
 * call (for operators dominated by a per-call cost, such as a pass over a distributed corpus), with
 * {@link io.influence.core.linalg.BlockLinearOperator#oneAtATime} as the adapter between the two.
 * Implementations live in {@code hvp} and in the Spark jobs.
 */
package io.influence.core.linalg;
