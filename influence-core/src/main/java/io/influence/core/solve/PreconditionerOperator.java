package io.influence.core.solve;

import io.influence.core.grad.Preconditioner;
import io.influence.core.linalg.LinearOperator;
import io.influence.core.score.LayerLayout;
import java.util.Map;
import java.util.Objects;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A per-layer {@link Preconditioner} (e.g. EK-FAC's {@code (Ĥ + λI)⁻¹}) seen as a {@link LinearOperator} on the
 * vector {@code layout} flattens the layers to: what {@link IhvpSolver#conjugateGradient(double, double, int,
 * LinearOperator)} takes as its preconditioner. Applied in float64.
 */
public final class PreconditionerOperator implements LinearOperator {

  private final Preconditioner preconditioner;
  private final LayerLayout layout;

  public PreconditionerOperator(Preconditioner preconditioner, LayerLayout layout) {
    this.preconditioner = Objects.requireNonNull(preconditioner, "preconditioner");
    this.layout = Objects.requireNonNull(layout, "layout");
  }

  @Override
  public int dim() {
    return layout.dim();
  }

  @Override
  public void apply(double[] v, double[] out) {
    Map<String, INDArray> applied = preconditioner.apply(layout.fromVector(v, DataType.DOUBLE));
    double[] flat = layout.toVector(preconditioner.method(), applied);
    System.arraycopy(flat, 0, out, 0, flat.length);
  }
}
