package io.influence.core.score;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** TopK against a full sort of all candidates (the brute-force truth). */
class TopKTest {

  private static final int CANDIDATES = 50;

  /** Candidates with many tied scores (only 7 distinct values) and ids in shuffled order. */
  private static List<TopK.Scored> candidates(long seed) {
    Random r = new Random(seed);
    List<TopK.Scored> c = new ArrayList<>();
    for (int i = 0; i < CANDIDATES; i++) {
      c.add(new TopK.Scored(String.format("doc-%03d", i), r.nextInt(7) - 3));
    }
    Collections.shuffle(c, r);
    return c;
  }

  private static List<TopK.Scored> truth(List<TopK.Scored> all, int k, boolean largest) {
    Comparator<TopK.Scored> byScore = Comparator.comparingDouble(TopK.Scored::score);
    Comparator<TopK.Scored> order = (largest ? byScore.reversed() : byScore).thenComparing(TopK.Scored::id);
    List<TopK.Scored> sorted = new ArrayList<>(all);
    sorted.sort(order);
    return sorted.subList(0, Math.min(k, sorted.size()));
  }

  private static TopK feed(TopK heap, List<TopK.Scored> c) {
    for (TopK.Scored s : c) {
      heap.offer(s.id(), s.score());
    }
    return heap;
  }

  @Test
  void result_kBelowAtAndAboveCandidateCount_equalsSortedPrefix() {
    List<TopK.Scored> c = candidates(1);
    for (int k : new int[] {1, 10, CANDIDATES - 1, CANDIDATES, CANDIDATES + 1, 3 * CANDIDATES}) {
      assertEquals(truth(c, k, true), feed(TopK.largest(k), c).result(), "top-" + k);
      assertEquals(truth(c, k, false), feed(TopK.smallest(k), c).result(), "bottom-" + k);
    }
  }

  @Test
  void worst_isTheLastOfTheResultAfterEveryOffer() {
    List<TopK.Scored> c = candidates(3);
    for (boolean largest : new boolean[] {true, false}) {
      TopK heap = largest ? TopK.largest(7) : TopK.smallest(7);
      TopK empty = heap;
      assertThrows(IllegalStateException.class, empty::worst);
      for (TopK.Scored s : c) {
        heap.offer(s.id(), s.score());
        List<TopK.Scored> kept = heap.result();
        assertEquals(kept.get(kept.size() - 1).score(), heap.worst(), "largest=" + largest);
      }
    }
  }

  @Test
  void result_equalScores_brokenByIdAscendingWhateverTheArrivalOrder() {
    TopK a = TopK.largest(2).offer("b", 1.0).offer("c", 1.0).offer("a", 1.0);
    TopK b = TopK.largest(2).offer("a", 1.0).offer("c", 1.0).offer("b", 1.0);
    List<TopK.Scored> expected = List.of(new TopK.Scored("a", 1.0), new TopK.Scored("b", 1.0));
    assertEquals(expected, a.result());
    assertEquals(expected, b.result());
    assertEquals(expected, TopK.smallest(2).offer("c", 1.0).offer("b", 1.0).offer("a", 1.0).result());
  }

  @Test
  void merge_ofSplits_equalsOnePass() {
    List<TopK.Scored> c = candidates(2);
    for (int k : new int[] {3, 12, CANDIDATES + 5}) {
      for (boolean largest : new boolean[] {true, false}) {
        TopK one = feed(largest ? TopK.largest(k) : TopK.smallest(k), c);
        // three uneven partitions, merged in a different order than they were cut
        TopK p1 = feed(largest ? TopK.largest(k) : TopK.smallest(k), c.subList(0, 7));
        TopK p2 = feed(largest ? TopK.largest(k) : TopK.smallest(k), c.subList(7, 31));
        TopK p3 = feed(largest ? TopK.largest(k) : TopK.smallest(k), c.subList(31, CANDIDATES));
        TopK merged = p3.merge(p1).merge(p2);
        assertEquals(one.result(), merged.result(), (largest ? "top-" : "bottom-") + k);
      }
    }
  }

  @Test
  void serialization_roundTrip_keepsContentsAndStillMerges() throws Exception {
    List<TopK.Scored> c = candidates(3);
    TopK heap = feed(TopK.largest(5), c.subList(0, 25));
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(heap);
    }
    TopK copy;
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      copy = (TopK) in.readObject();
    }
    assertEquals(heap.result(), copy.result());
    copy.merge(feed(TopK.largest(5), c.subList(25, CANDIDATES)));
    assertEquals(truth(c, 5, true), copy.result());
  }

  @Test
  void merge_differentDirectionOrK_throws() {
    assertThrows(IllegalArgumentException.class, () -> TopK.largest(3).merge(TopK.smallest(3)));
    assertThrows(IllegalArgumentException.class, () -> TopK.largest(3).merge(TopK.largest(4)));
  }

  @Test
  void offer_nanScore_throwsNamingId() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TopK.largest(3).offer("doc-7", Double.NaN));
    assertTrue(e.getMessage().contains("doc-7"), e.getMessage());
  }

  @Test
  void largest_kZero_throws() {
    assertThrows(IllegalArgumentException.class, () -> TopK.largest(0));
  }
}
