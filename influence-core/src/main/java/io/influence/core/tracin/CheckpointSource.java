package io.influence.core.tracin;

import java.util.List;

/** Yields the gradients of one checkpoint at a time, so only one checkpoint's gradients are in memory. */
public interface CheckpointSource {

  int size();

  CheckpointGradients load(int index);

  /** A source over gradients already in memory. */
  static CheckpointSource of(List<CheckpointGradients> checkpoints) {
    List<CheckpointGradients> copy = List.copyOf(checkpoints);
    return new CheckpointSource() {
      @Override
      public int size() {
        return copy.size();
      }

      @Override
      public CheckpointGradients load(int index) {
        return copy.get(index);
      }
    };
  }
}
