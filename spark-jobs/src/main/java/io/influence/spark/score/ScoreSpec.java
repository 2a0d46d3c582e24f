package io.influence.spark.score;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * What {@link ScoreJob#run} computes:
 * {@code score(query, train) = Σ_i weights[i] · ⟨query.perCheckpoint[i], g_i(train)⟩} over the named checkpoints
 * of the gradient store (TracInCP: weights are the learning rates η_i; influence functions: one checkpoint,
 * weight 1, queries already multiplied by (H + λI)⁻¹). Keeps the {@code k} highest ("top") and lowest ("bottom")
 * per query.
 *
 * @param store       gradient store (see io.influence.spark.store.GradientStore)
 * @param checkpoints checkpoint names in the store, at least one, distinct
 * @param weights     one finite weight per checkpoint
 * @param queries     at least one query, ids distinct, one gradient map per checkpoint
 * @param k           training examples kept per query and direction, {@code >= 1}
 * @param blockRows   training rows per GEMM, {@code >= 1} (e.g. 1024)
 * @param method      provenance: the method name written in every row ("tracin", "ekfac", ...)
 * @param damping     provenance: the damping λ used for the queries, or null
 * @param corpus      corpus to join the training text from (io.influence.spark.io.Corpus), or null
 * @param output      folder for the Parquet rows and {@code summary.jsonl}, or null to write nothing
 */
public record ScoreSpec(Path store, List<String> checkpoints, List<Double> weights, List<QueryGradient> queries, int k,
    int blockRows, String method, Double damping, Path corpus, Path output) {

  public ScoreSpec {
    Objects.requireNonNull(store, "store");
    checkpoints = List.copyOf(Objects.requireNonNull(checkpoints, "checkpoints"));
    weights = List.copyOf(Objects.requireNonNull(weights, "weights"));
    queries = List.copyOf(Objects.requireNonNull(queries, "queries"));
    if (checkpoints.isEmpty()) {
      throw new IllegalArgumentException("name at least one checkpoint of " + store);
    }
    if (Set.copyOf(checkpoints).size() != checkpoints.size()) {
      throw new IllegalArgumentException("checkpoints repeat: " + checkpoints);
    }
    if (weights.size() != checkpoints.size()) {
      throw new IllegalArgumentException(checkpoints.size() + " checkpoints but " + weights.size() + " weights."
          + " HINT: give one learning rate per checkpoint (1.0 for a single preconditioned checkpoint).");
    }
    for (int i = 0; i < weights.size(); i++) {
      if (weights.get(i) == null || !Double.isFinite(weights.get(i))) {
        throw new IllegalArgumentException("weight of checkpoint '" + checkpoints.get(i) + "' must be finite, got "
            + weights.get(i));
      }
    }
    if (queries.isEmpty()) {
      throw new IllegalArgumentException("no queries to score");
    }
    Set<String> ids = new HashSet<>();
    for (QueryGradient q : queries) {
      if (!ids.add(q.id())) {
        throw new IllegalArgumentException("query id '" + q.id() + "' appears twice. HINT: give each query a unique id.");
      }
      if (q.perCheckpoint().size() != checkpoints.size()) {
        throw new IllegalArgumentException("query '" + q.id() + "' has gradients for " + q.perCheckpoint().size()
            + " checkpoints but " + checkpoints.size() + " are scored " + checkpoints);
      }
    }
    if (k < 1) {
      throw new IllegalArgumentException("k must be >= 1, got " + k);
    }
    if (blockRows < 1) {
      throw new IllegalArgumentException("blockRows must be >= 1, got " + blockRows);
    }
    if (method == null || method.isBlank()) {
      throw new IllegalArgumentException("method must name the influence method, e.g. \"tracin\"");
    }
    if (damping != null && (!Double.isFinite(damping) || damping < 0)) {
      throw new IllegalArgumentException("damping must be finite and >= 0 (or null), got " + damping);
    }
  }
}
