package io.influence.spark.ekfac;

import io.influence.core.grad.Preconditioner;
import io.influence.ekfac.Damping;
import io.influence.ekfac.KroneckerPreconditioners;
import io.influence.spark.io.SerializableConf;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.hadoop.fs.Path;

/**
 * {@code (H + λI)⁻¹} of EK-FAC per checkpoint on the executors: ships only the factor folder and each checkpoint's
 * fit id; the factors are read once per JVM (keyed by folder, fit id and damping, so a re-fit is reloaded) and the
 * thread-safe preconditioner is shared by the JVM's tasks.
 */
final class EkfacSelfPreconditioner implements Preconditioner.PerCheckpoint {

  private static final long serialVersionUID = 1L;
  private static final Map<String, Preconditioner> LOADED = new ConcurrentHashMap<>();

  private final String root;
  private final Map<String, String> fitIds;
  private final String dampingMode;
  private final double dampingValue;
  private final SerializableConf conf;

  EkfacSelfPreconditioner(String root, Map<String, String> fitIds, String dampingMode, double dampingValue,
      SerializableConf conf) {
    this.root = root;
    this.conf = conf;
    this.fitIds = Map.copyOf(fitIds);
    this.dampingMode = dampingMode;
    this.dampingValue = dampingValue;
  }

  @Override
  public Preconditioner at(String checkpoint) {
    String fitId = fitIds.get(checkpoint);
    if (fitId == null) {
      throw new IllegalArgumentException("no EK-FAC factors were prepared for checkpoint '" + checkpoint + "' (have "
          + fitIds.keySet() + ")");
    }
    return LOADED.computeIfAbsent(root + "#" + checkpoint + "#" + fitId + "#" + dampingMode + "#"
        + dampingValue, k -> KroneckerPreconditioners.ekfac(
            FactorStore.readFolder(conf.get(), FactorStore.folder(new Path(root), checkpoint)),
            new Damping(Damping.Mode.valueOf(dampingMode), dampingValue)));
  }
}
