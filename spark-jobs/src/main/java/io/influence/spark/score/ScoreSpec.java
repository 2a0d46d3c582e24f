package io.influence.spark.score;

import io.influence.spark.io.Locations;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.apache.hadoop.fs.Path;

/**
 * What {@link ScoreJob#run} computes:
 * {@code score(query, train) = Σ_i weights[i] · ⟨query.perCheckpoint[i], g_i(train)⟩} over the named checkpoints
 * of the gradient store (TracInCP: weights are the learning rates η_i; influence functions: one checkpoint,
 * weight 1, queries already multiplied by (H + λI)⁻¹). Keeps the {@code k} highest ("top") and lowest ("bottom")
 * per query.
 *
 * @param store       gradient store (see io.influence.spark.store.GradientStore); paths are on any Hadoop file
 *                    system ({@link Locations#resolve})
 * @param checkpoints checkpoint names in the store, at least one, distinct
 * @param weights     one finite weight per checkpoint
 * @param queries     at least one query, ids distinct, one gradient map per checkpoint
 * @param k           training examples kept per query and direction, {@code >= 1}
 * @param blockRows   training rows per GEMM, {@code >= 1} (e.g. 1024)
 * @param method      provenance: the method name written in every row ("tracin", "ekfac", ...)
 * @param damping     provenance: the damping of an influence function (mode, value, resolved λ), or null
 * @param corpus      corpus to join the training text from (io.influence.spark.io.Corpus), or null
 * @param output      folder for the Parquet rows and {@code summary.jsonl}, or null to write nothing
 * @param solver      provenance: per query id, a JSON object describing how its preconditioned gradient was
 *                    solved (iterative methods: iterations, residual, converged per checkpoint), written in the
 *                    {@code solver} column of that query's rows; null (or a missing id) writes null
 * @param candidates  per query id, the corpus row ids it is scored against (a candidate prefilter,
 *                    io.influence.spark.candidates): a training sequence counts when its row id
 *                    ({@code LongText.rowId}, so every window of a candidate row) is in its query's set, and the
 *                    top-k and bottom-k are taken among those; null scores every query against every row
 * @param unit        unit-normalised gradients (TrackStar-style cosine scores): each checkpoint's part of every stored
 *                    row and of every (preconditioned) query is divided by its norm before the products, so the
 *                    score is {@code Σ_i w_i cos(P_i g_q,i, g_i)}
 */
public record ScoreSpec(Path store, List<String> checkpoints, List<Double> weights, List<QueryGradient> queries, int k,
    int blockRows, String method, DampingUsed damping, Path corpus, Path output, Map<String, String> solver,
    Map<String, Set<String>> candidates, boolean unit) {

  /** A spec with raw (not normalised) gradients. */
  public ScoreSpec(Path store, List<String> checkpoints, List<Double> weights, List<QueryGradient> queries, int k,
      int blockRows, String method, DampingUsed damping, Path corpus, Path output, Map<String, String> solver,
      Map<String, Set<String>> candidates) {
    this(store, checkpoints, weights, queries, k, blockRows, method, damping, corpus, output, solver, candidates,
        false);
  }

  /** A spec that scores every query against every stored row. */
  public ScoreSpec(Path store, List<String> checkpoints, List<Double> weights, List<QueryGradient> queries, int k,
      int blockRows, String method, DampingUsed damping, Path corpus, Path output, Map<String, String> solver) {
    this(store, checkpoints, weights, queries, k, blockRows, method, damping, corpus, output, solver, null);
  }

  /** A spec without solver reports (TracIn, EK-FAC). */
  public ScoreSpec(Path store, List<String> checkpoints, List<Double> weights, List<QueryGradient> queries, int k,
      int blockRows, String method, DampingUsed damping, Path corpus, Path output) {
    this(store, checkpoints, weights, queries, k, blockRows, method, damping, corpus, output, null);
  }

  public ScoreSpec {
    io.influence.spark.store.CheckpointWeights.check(store, checkpoints, weights);
    checkpoints = List.copyOf(checkpoints);
    weights = List.copyOf(weights);
    queries = List.copyOf(Objects.requireNonNull(queries, "queries"));
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
    solver = solver == null ? null : Map.copyOf(solver);
    if (candidates != null) {
      Map<String, Set<String>> copy = new java.util.HashMap<>();
      for (QueryGradient q : queries) {
        Set<String> rows = candidates.get(q.id());
        if (rows == null) {
          throw new IllegalArgumentException("query '" + q.id() + "' has no candidate list. HINT: compute the"
              + " candidates for these queries (`influence candidates`) or score without them");
        }
        copy.put(q.id(), Set.copyOf(rows));
      }
      candidates = Map.copyOf(copy);
    }
  }

  /** This spec scoring each query only against its own candidate rows ({@code candidates}, see the record). */
  public ScoreSpec withCandidates(Map<String, Set<String>> candidates) {
    return new ScoreSpec(store, checkpoints, weights, queries, k, blockRows, method, damping, corpus, output, solver,
        Objects.requireNonNull(candidates, "candidates"), unit);
  }

  /** This spec with unit-normalised gradients (cosine scores) when {@code on}. */
  public ScoreSpec withUnitGradients(boolean on) {
    return new ScoreSpec(store, checkpoints, weights, queries, k, blockRows, method, damping, corpus, output, solver,
        candidates, on);
  }

  /** A spec with local paths (store, corpus or null, output or null). */
  public ScoreSpec(java.nio.file.Path store, List<String> checkpoints, List<Double> weights,
      List<QueryGradient> queries, int k, int blockRows, String method, DampingUsed damping, java.nio.file.Path corpus,
      java.nio.file.Path output, Map<String, String> solver) {
    this(Locations.local(store), checkpoints, weights, queries, k, blockRows, method, damping, localOrNull(corpus),
        localOrNull(output), solver);
  }

  /** A spec with local paths and without solver reports. */
  public ScoreSpec(java.nio.file.Path store, List<String> checkpoints, List<Double> weights,
      List<QueryGradient> queries, int k, int blockRows, String method, DampingUsed damping, java.nio.file.Path corpus,
      java.nio.file.Path output) {
    this(store, checkpoints, weights, queries, k, blockRows, method, damping, corpus, output, null);
  }

  private static Path localOrNull(java.nio.file.Path p) {
    return p == null ? null : Locations.local(p);
  }
}
