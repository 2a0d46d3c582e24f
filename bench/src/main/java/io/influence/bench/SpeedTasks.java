package io.influence.bench;

import java.util.List;

/** The speed tasks of {@code influence bench} (gradients vs PyTorch and GEMM peak, scoring, EK-FAC fit, scaling, memory). */
final class SpeedTasks {

  private SpeedTasks() {}

  static List<BenchTask> all() {
    return List.of(new GradientsTask(), new ScoringTask(), new EkfacFitTask(), new ScalingTask(), new MemoryTask(),
        new PlanTask(), new ScaleTask(), new HvpBlockTask());
  }
}
