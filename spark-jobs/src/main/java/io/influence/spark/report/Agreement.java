package io.influence.spark.report;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * How far several methods agree on one query's top-k (or bottom-k): for each training id, how many of the methods'
 * lists hold it, and for each pair of methods how many ids their lists share. The report marks an id kept by more than
 * one method and prints the pairwise overlaps as the query's "top-k agreement".
 *
 * @param methodsPerId training id → number of lists that hold it (ids in order of first appearance)
 * @param pairs every pair of lists, in column order: (a, b) with a before b
 */
public record Agreement(Map<String, Integer> methodsPerId, List<Overlap> pairs) {

  /** The overlap of two columns' lists: {@code shared} ids in both, of {@code sizeA} and {@code sizeB}. */
  public record Overlap(String a, String b, int shared, int sizeA, int sizeB) {}

  public Agreement {
    methodsPerId = Collections.unmodifiableMap(new LinkedHashMap<>(Checks.notNull(methodsPerId, "methodsPerId")));
    pairs = Checks.list(pairs, "pairs");
  }

  /** The agreement of the lists {@code idsByColumn} (column label → its ids; an id counts once per column). */
  public static Agreement of(Map<String, List<String>> idsByColumn) {
    Map<String, Set<String>> sets = new LinkedHashMap<>();
    idsByColumn.forEach((column, ids) -> sets.put(column, new LinkedHashSet<>(ids)));
    Map<String, Integer> perId = new LinkedHashMap<>();
    sets.values().forEach(ids -> ids.forEach(id -> perId.merge(id, 1, Integer::sum)));
    List<String> columns = new ArrayList<>(sets.keySet());
    List<Overlap> pairs = new ArrayList<>();
    for (int i = 0; i < columns.size(); i++) {
      for (int j = i + 1; j < columns.size(); j++) {
        Set<String> a = sets.get(columns.get(i));
        Set<String> b = sets.get(columns.get(j));
        int shared = (int) a.stream().filter(b::contains).count();
        pairs.add(new Overlap(columns.get(i), columns.get(j), shared, a.size(), b.size()));
      }
    }
    return new Agreement(perId, pairs);
  }

  /** How many lists hold {@code id} (0 when none does). */
  public int methods(String id) {
    return methodsPerId.getOrDefault(id, 0);
  }
}
