package io.influence.bench;

import io.influence.core.model.CausalLm;
import io.influence.core.model.GradientRequest;
import io.influence.core.model.TokenBatch;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Tail-patch (TrackStar, Chang et al. 2024), a causal check of an attribution: for a query and one of its top-k
 * proponents, the increase of the query completion's log-probability after a single SGD step of size {@code rate} on
 * the proponent alone ({@code θ' = θ − rate · ∇ L(proponent)}, every parameter, summed next-token loss), averaged over
 * the top k and over the queries. A method whose proponents raise the completion's probability more has found what
 * the model learns the answer from; a lexical match that the model does not learn from scores near zero.
 *
 * <p>Each distinct proponent is stepped once (its gradient does not depend on the query), every query that ranks it
 * is evaluated at the stepped parameters, and the parameters are restored from a copy, so the figure does not depend
 * on the order of evaluation. Float64 throughout: the log-probability changes of one small step are small.
 */
final class TailPatch {

  /** A query: its tokens and the completion mask (1 on the completion's predicted tokens). */
  record Query(String id, int[] tokens, int[] lossMask) {}

  private final CausalLm model;
  private final Map<String, int[]> train;
  private final double rate;
  private final Map<String, Double> before = new HashMap<>();
  private final Map<String, Map<String, Double>> gain = new HashMap<>();   // proponent -> query -> Δ log p

  /** Over {@code model} (converted to float64), training sequences by id, SGD step {@code rate}. */
  TailPatch(CausalLm model, Map<String, int[]> train, double rate) {
    if (!(rate > 0)) {
      throw new IllegalArgumentException("tail-patch step size must be > 0, got " + rate);
    }
    this.model = model.withDataType(DataType.DOUBLE);
    this.train = train;
    this.rate = rate;
  }

  /**
   * The mean tail-patch of {@code topK} proponents per query: {@code rankings.get(queryId)} is that query's ranking
   * (best first) of training ids; queries without a ranking are skipped. Returns {@code NaN} when none is ranked.
   */
  double mean(List<Query> queries, Map<String, List<String>> rankings, int topK) {
    Map<String, List<Query>> byProponent = new LinkedHashMap<>();
    for (Query q : queries) {
      List<String> r = rankings.get(q.id());
      if (r == null) {
        continue;
      }
      for (String p : r.subList(0, Math.min(topK, r.size()))) {
        if (!gain.computeIfAbsent(p, k -> new HashMap<>()).containsKey(q.id())) {
          byProponent.computeIfAbsent(p, k -> new ArrayList<>()).add(q);
        }
      }
    }
    byProponent.forEach(this::measure);
    double sum = 0;
    int n = 0;
    for (Query q : queries) {
      List<String> r = rankings.get(q.id());
      if (r == null) {
        continue;
      }
      double perQuery = 0;
      int k = Math.min(topK, r.size());
      for (String p : r.subList(0, k)) {
        perQuery += gain.get(p).get(q.id());
      }
      sum += perQuery / k;
      n++;
    }
    return n == 0 ? Double.NaN : sum / n;
  }

  /** Steps on {@code proponent}, records the gain of each of {@code queries}, restores the parameters. */
  private void measure(String proponent, List<Query> queries) {
    int[] tokens = train.get(proponent);
    if (tokens == null) {
      throw new IllegalArgumentException("tail-patch: no training sequence with id " + proponent);
    }
    for (Query q : queries) {
      before.computeIfAbsent(q.id(), id -> logProb(q));
    }
    Map<String, INDArray> views = model.parameterViews();
    Map<String, INDArray> saved = model.parameters();
    Map<String, INDArray> g = model.gradients(TokenBatch.of(tokens), GradientRequest.allParameters())
        .parameterGradients();
    try {
      for (Map.Entry<String, INDArray> e : g.entrySet()) {
        INDArray view = views.get(e.getKey());
        if (view == null) {
          throw new IllegalStateException("gradient of " + e.getKey() + " has no parameter of that name");
        }
        view.subi(e.getValue().castTo(DataType.DOUBLE).muli(rate));
      }
      Map<String, Double> out = gain.computeIfAbsent(proponent, k -> new HashMap<>());
      for (Query q : queries) {
        out.put(q.id(), logProb(q) - before.get(q.id()));
      }
    } finally {
      saved.forEach((k, v) -> views.get(k).assign(v));
    }
  }

  private double logProb(Query q) {
    return -model.losses(new TokenBatch(new int[][] {q.tokens()}, new int[][] {q.lossMask()}))[0];
  }
}
