package io.influence.core.model;

import io.influence.checkpoints.Checkpoint;
import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.TensorInfo;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Every tensor of a checkpoint as an ND4J array, for building a model of any family. */
final class CheckpointTensors {

  private CheckpointTensors() {}

  /**
   * All tensors of {@code ckpt} in name order, 'c'-ordered in their checkpoint shapes (a scalar
   * becomes {@code [1]}), read as float64 for {@code DOUBLE} and float32 otherwise.
   */
  static Map<String, INDArray> read(Checkpoint ckpt, DataType dataType) throws CheckpointFormatException {
    Map<String, INDArray> tensors = new LinkedHashMap<>();
    for (String name : new TreeSet<>(ckpt.tensorNames())) {
      TensorInfo info = ckpt.info(name);
      long[] shape = info.shape().length == 0 ? new long[] {1} : info.shape();
      INDArray arr = dataType == DataType.DOUBLE
          ? Nd4j.create(ckpt.readDoubles(name), shape, 'c')
          : Nd4j.create(ckpt.readFloats(name), shape, 'c');
      tensors.put(name, arr);
    }
    return tensors;
  }
}
