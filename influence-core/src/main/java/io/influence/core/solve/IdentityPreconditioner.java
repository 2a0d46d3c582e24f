package io.influence.core.solve;

import io.influence.core.grad.Preconditioner;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The identity preconditioner of TracIn ({@code method() = "tracin"}): scores are plain gradient
 * inner products. {@link #apply} returns a new unmodifiable map holding the same arrays (not
 * copies); callers must not modify them.
 */
public final class IdentityPreconditioner implements Preconditioner {

  private static final IdentityPreconditioner INSTANCE = new IdentityPreconditioner();

  private IdentityPreconditioner() {}

  public static IdentityPreconditioner create() {
    return INSTANCE;
  }

  @Override
  public String method() {
    return "tracin";
  }

  @Override
  public Map<String, INDArray> apply(Map<String, INDArray> gradient) {
    return Collections.unmodifiableMap(new LinkedHashMap<>(gradient));
  }
}
