package io.influence.bench;

import java.util.List;

/** The quality tasks of {@code influence bench} (exactness, leave-one-out/LDS, planted facts, data cleaning, all methods compared). */
final class QualityTasks {

  private QualityTasks() {}

  static List<BenchTask> all() {
    return List.of(new ExactnessTask(), new LeaveOneOutTask(), new PlantedFactsTask(), new CleaningTask(),
        new SgdInfluenceTask(),
        new ShapleyTask(),
        new CandidatesTask(),
        new FlaggingTask(),
        new ProjectionTask(),
        new CompareTask());
  }
}
