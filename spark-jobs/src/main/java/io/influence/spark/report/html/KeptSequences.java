package io.influence.spark.report.html;

import io.influence.spark.report.QueryResult;
import io.influence.spark.report.RankedSequence;
import io.influence.spark.report.TokenContribution;
import java.util.ArrayList;
import java.util.Collections;
import java.util.TreeMap;
import java.util.List;
import java.util.Map;

/**
 * The training sequences one query's methods keep, each once however many methods keep it: its token texts, and per
 * method (by its key, the method's index among the query's token-carrying columns) where that method ranks it and
 * its per-token contributions. The report writes each sequence's tokens once and carries every method's shading as
 * classes on the same token spans ({@link TokenPart}), instead of writing the sequence once per method.
 *
 * <p>Order: the top-k lists rank by rank, each rank in column order, then the bottom-k lists; a sequence kept in some
 * method's top-k is placed with the top ones even when another method keeps it in its bottom-k. A training id whose
 * token texts differ between methods (which the builder never produces: every method reads the same sequence) is
 * shown once per distinct text, so no shading is ever drawn on tokens it was not computed for.
 */
final class KeptSequences {

  /**
   * What one method says of a kept sequence.
   *
   * @param places        where the method keeps it ("top #3"; two places when its top-k and bottom-k overlap)
   * @param contributions one per token, in the sequence's order
   * @param maxAbs        the largest |contribution|: the method's shades are tenths of it
   */
  record Shading(List<String> places, double score, double[] contributions, double maxAbs) {}

  /** A kept sequence: its tokens' texts once, whether a method keeps it in its top-k, each keeping method's shading. */
  record Kept(String trainId, List<String> texts, boolean top, Map<Integer, Shading> byKey) {}

  private KeptSequences() {}

  /** The sequences kept by {@code methods} (the query's token-carrying columns, in key order), each once. */
  static List<Kept> of(List<QueryResult> methods) {
    List<Kept> out = new ArrayList<>();
    for (boolean top : new boolean[] {true, false}) {
      int depth = 0;
      for (QueryResult m : methods) {
        depth = Math.max(depth, (top ? m.top() : m.bottom()).size());
      }
      for (int r = 0; r < depth; r++) {
        for (int k = 0; k < methods.size(); k++) {
          List<RankedSequence> list = top ? methods.get(k).top() : methods.get(k).bottom();
          if (r < list.size()) {
            add(out, list.get(r), k, top);
          }
        }
      }
    }
    List<Kept> frozen = new ArrayList<>();
    for (Kept s : out) {
      frozen.add(new Kept(s.trainId(), s.texts(), s.top(), Collections.unmodifiableMap(s.byKey())));
    }
    return List.copyOf(frozen);
  }

  private static void add(List<Kept> out, RankedSequence s, int key, boolean top) {
    List<String> texts = new ArrayList<>(s.tokens().size());
    double[] contributions = new double[s.tokens().size()];
    double maxAbs = 0;
    for (int t = 0; t < contributions.length; t++) {
      TokenContribution c = s.tokens().get(t);
      texts.add(c.text());
      contributions[t] = c.contribution();
      maxAbs = Math.max(maxAbs, Math.abs(c.contribution()));
    }
    String place = (top ? "top #" : "bottom #") + s.rank();
    Kept kept = null;
    for (Kept k : out) {
      if (k.trainId().equals(s.trainId()) && k.texts().equals(texts)) {
        kept = k;
        break;
      }
    }
    if (kept == null) {
      kept = new Kept(s.trainId(), List.copyOf(texts), top, new TreeMap<>());
      out.add(kept);
    }
    Shading known = kept.byKey().get(key);
    if (known != null) {   // the same method keeps it in its top-k and its bottom-k (a corpus of under 2k rows)
      List<String> places = new ArrayList<>(known.places());
      places.add(place);
      kept.byKey().put(key, new Shading(List.copyOf(places), known.score(), known.contributions(), known.maxAbs()));
    } else {
      kept.byKey().put(key, new Shading(List.of(place), s.score(), contributions, maxAbs));
    }
  }

  /** The shade level 0..{@value Css#LEVELS} of contribution {@code c}: tenths of {@code maxAbs}, rounded up; 0 for 0. */
  static int level(double c, double maxAbs) {
    if (c == 0 || maxAbs == 0) {
      return 0;
    }
    return Math.max(1, Math.min(Css.LEVELS, (int) Math.ceil(Math.abs(c) / maxAbs * Css.LEVELS - 1e-9)));
  }
}
