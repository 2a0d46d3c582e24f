/**
 * The scoring kernels the Spark jobs run, and their in-memory references. No Spark here: a job feeds
 * rows of its partitions to these classes and merges what comes back.
 *
 * <p>Layout: {@link io.influence.core.score.LayerLayout} fixes the layer order and the row-major flattening
 * of one example's per-layer gradients (D values); the gradient store's wide rows are C checkpoints of that
 * layout side by side (C·D float32 values).
 *
 * <ul>
 *   <li>{@link io.influence.core.score.BlockScorer}: score stage, pass 1. Blocks of training rows against the
 *       weighted query matrix with one float32 GEMM ({@link io.influence.core.score.PairwiseScores#scoreColumns}),
 *       kept in bounded top-k and bottom-k heaps per query ({@link io.influence.core.score.TopK},
 *       {@link io.influence.core.score.QueryHeaps}, mergeable across partitions;
 *       {@link io.influence.core.score.Ranking} is the result by query id).</li>
 *   <li>{@link io.influence.core.score.ScoreSplit}: score stage, pass 2. One selected pair's score split per
 *       checkpoint and per layer, in float64.</li>
 *   <li>{@link io.influence.core.score.SelfInfluenceScorer}: the self-influence stage's
 *       {@code Σ_i w_i ⟨g_i, P_i g_i⟩} of one wide row.</li>
 *   <li>{@link io.influence.core.score.TokenAttribution}: per-token terms {@code g_tᵀ Q a_t} of a layer's score
 *       (the report's token highlighting); {@link io.influence.core.score.LowRankQuery} scores from token factors
 *       with a rank-r query.</li>
 *   <li>{@link io.influence.core.score.PairwiseScores}: dense all-pairs scores (single machine, TracInCP's
 *       reference path); {@link io.influence.core.score.Stats}: correlations for comparing score vectors.</li>
 * </ul>
 *
 * <pre>{@code
 * BlockScorer scorer = new BlockScorer(queryIds, BlockScorer.foldWeights(queries, dim, weights), width, k, 256);
 * for (each training row) {
 *   int off = scorer.beginRow(id);
 *   // copy the row's width floats into scorer.buffer() at off
 * }
 * QueryHeaps heaps = scorer.finish();          // merge partitions with QueryHeaps::merge
 * Ranking ranking = heaps.ranking(List.of(queryIds));
 * }</pre>
 */
package io.influence.core.score;
