package io.influence.ekfac;

import io.influence.core.grad.Preconditioner;
import java.util.Map;

/** Factories for the K-FAC and EK-FAC preconditioners over a map of layer name to factors. */
public final class KroneckerPreconditioners {

  private KroneckerPreconditioners() {}

  /** K-FAC: eigenvalues {@code T̄ λ^S_i λ^A_j}; method name {@code "kfac"}. */
  public static Preconditioner kfac(Map<String, LayerFactors> factors, Damping damping) {
    return new KroneckerPreconditioner("kfac", factors, damping, false);
  }

  /** EK-FAC: corrected eigenvalues (every layer must have been corrected); method name {@code "ekfac"}. */
  public static Preconditioner ekfac(Map<String, LayerFactors> factors, Damping damping) {
    return new KroneckerPreconditioner("ekfac", factors, damping, true);
  }
}
