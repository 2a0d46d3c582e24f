package io.influence.core.score;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.PriorityQueue;

/*
 * A bounded heap that keeps the k best (id, score) pairs: the largest scores (top-k, the most
 * helpful training sequences) or the smallest (bottom-k, the most harmful).
 *
 * Order is total and deterministic: by score (descending for largest, ascending for smallest),
 * and equal scores by id ascending, so the kept set and its order do not depend on the order
 * in which candidates arrive. That makes heaps mergeable: per-partition heaps merged in any
 * order (Spark ALS's TopByKeyAggregator pattern) equal one pass over all candidates. Each id is
 * expected once across everything offered (training ids are unique); duplicates are not merged.
 *
 * Layout: a java.util.PriorityQueue whose head is the worst kept pair, so offer() is O(log k).
 * Serializable (Java serialisation) so Spark can ship it; the comparator is a serializable
 * nested class.
 */
public final class TopK implements Serializable {

  private static final long serialVersionUID = 1L;

  /** One ranked candidate. */
  public record Scored(String id, double score) implements Serializable {
    private static final long serialVersionUID = 1L;

    public Scored {
      Objects.requireNonNull(id, "id");
    }
  }

  private final int k;
  private final boolean largest;
  private final PriorityQueue<Scored> heap;

  private TopK(int k, boolean largest) {
    if (k < 1) {
      throw new IllegalArgumentException("k must be >= 1, got " + k);
    }
    this.k = k;
    this.largest = largest;
    // head = worst kept = reverse of the ranking order
    this.heap = new PriorityQueue<>(Math.min(k, 1024) + 1, new Ranking(largest).reversed());
  }

  /** Keeps the k largest scores (ties: smaller id first). */
  public static TopK largest(int k) {
    return new TopK(k, true);
  }

  /** Keeps the k smallest scores (ties: smaller id first). */
  public static TopK smallest(int k) {
    return new TopK(k, false);
  }

  public int k() {
    return k;
  }

  public boolean keepsLargest() {
    return largest;
  }

  /** Number of pairs kept (at most k). */
  public int size() {
    return heap.size();
  }

  /** Offers a candidate; NaN or infinite scores are refused. Returns this. */
  public TopK offer(String id, double score) {
    Objects.requireNonNull(id, "id");
    if (!Double.isFinite(score)) {
      throw new IllegalArgumentException("candidate '" + id + "' has score " + score
          + ". HINT: a NaN/Inf score means a NaN/Inf gradient upstream; re-extract that example.");
    }
    Scored s = new Scored(id, score);
    if (heap.size() < k) {
      heap.add(s);
    } else if (heap.comparator().compare(s, heap.peek()) > 0) {
      heap.poll();
      heap.add(s);
    }
    return this;
  }

  /** Merges another heap of the same k and direction into this one; {@code other} is unchanged. Returns this. */
  public TopK merge(TopK other) {
    if (other.k != k || other.largest != largest) {
      throw new IllegalArgumentException("cannot merge a " + describe(other) + " heap into a " + describe(this) + " heap");
    }
    for (Scored s : other.heap) {
      offer(s.id(), s.score());
    }
    return this;
  }

  /** The score of the worst pair kept (the one the next better offer replaces); throws when nothing is kept. */
  public double worst() {
    Scored w = heap.peek();
    if (w == null) {
      throw new IllegalStateException("an empty " + describe(this) + " heap has no worst pair");
    }
    return w.score();
  }

  /** The kept pairs, best first. */
  public List<Scored> result() {
    List<Scored> out = new ArrayList<>(heap);
    out.sort(new Ranking(largest));
    return out;
  }

  private static String describe(TopK t) {
    return (t.largest ? "top-" : "bottom-") + t.k;
  }

  @Override
  public String toString() {
    return describe(this) + result();
  }

  /** Best first: by score (descending if largest), then id ascending; or the reverse (worst first) for the heap. */
  private static final class Ranking implements Comparator<Scored>, Serializable {
    private static final long serialVersionUID = 2L;
    private final boolean largest;
    private final boolean worstFirst;

    Ranking(boolean largest) {
      this(largest, false);
    }

    private Ranking(boolean largest, boolean worstFirst) {
      this.largest = largest;
      this.worstFirst = worstFirst;
    }

    @Override
    public int compare(Scored x, Scored y) {
      if (worstFirst) {
        Scored t = x;
        x = y;
        y = t;
      }
      int c = largest ? Double.compare(y.score(), x.score()) : Double.compare(x.score(), y.score());
      return c != 0 ? c : x.id().compareTo(y.id());
    }

    @Override
    public Comparator<Scored> reversed() {
      return new Ranking(largest, !worstFirst);
    }
  }
}
