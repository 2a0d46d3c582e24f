package io.influence.spark.method;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.grad.Preconditioner;
import io.influence.ekfac.KroneckerPreconditioners;
import io.influence.ekfac.LayerFactors;
import io.influence.spark.config.EkfacSettings;
import io.influence.spark.config.Method;
import io.influence.spark.ekfac.FactorStore;
import io.influence.spark.store.GradientStore;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.spark.sql.SparkSession;

/**
 * Influence functions with EK-FAC (Grosse et al. 2023): each query gradient, in the store's space, multiplied by its
 * checkpoint's {@code (H_i + λI)⁻¹} from the fitted factors; checkpoints weighted 1 ({@code ekfac.checkpoints}).
 */
public final class EkfacInfluence extends InfluenceFunction {

  private final EkfacSettings settings;

  EkfacInfluence(EkfacSettings settings) {
    super(settings.checkpoints(), settings.damping());
    this.settings = settings;
  }

  @Override
  public Method name() {
    return Method.EKFAC;
  }

  @Override
  public boolean needsFactors() {
    return true;
  }

  @Override
  public boolean needsCorpusProducts() {
    return false;
  }

  @Override
  public List<String> settingsBlocks() {
    return List.of("ekfac");
  }

  @Override
  public Preconditioned precondition(SparkSession spark, ScoringInputs in, List<RunCheckpoint> checkpoints) {
    Map<String, Double> lambda = new LinkedHashMap<>();
    Map<String, String> fisher = new LinkedHashMap<>();
    Preconditioned p = StoreSpaceQueries.collect(spark, in, checkpoints, meta -> {
      Map<String, LayerFactors> factors = FactorStore.read(in.factors(), meta);
      fisher.put(meta.checkpoint(), FactorStore.marker(in.factors(), meta.checkpoint()).fisher());
      // the λ KroneckerPreconditioner adds to each layer's corrected eigenvalues, for the provenance
      factors.forEach((layer, f) -> lambda.put(meta.checkpoint() + "/" + layer,
          settings.damping().resolve(f.ekfacEigenvalues())));
      return KroneckerPreconditioners.ekfac(factors, settings.damping())::apply;
    });
    // provenance in each row's solver column: which curvature the factors hold, per checkpoint
    String report;
    try {
      Map<String, Object> what = new LinkedHashMap<>();
      what.put("preconditioner", "ekfac");
      what.put("fisher", fisher);
      report = new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(what);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
    Map<String, String> solver = new LinkedHashMap<>();
    p.queries().forEach(q -> solver.put(q.id(), report));
    return new Preconditioned(p.queries(), solver, lambda);
  }

  @Override
  public Optional<Preconditioner.PerCheckpoint> selfPreconditioner(SparkSession spark, ScoringInputs in,
      List<String> checkpoints) {
    return Optional.of(FactorStore.selfPreconditioner(in.factors(),
        checkpoints.stream().map(n -> GradientStore.metadata(spark, in.store(), n)).toList(), settings.damping()));
  }
}
