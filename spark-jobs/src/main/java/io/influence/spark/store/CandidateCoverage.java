package io.influence.spark.store;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.spark.io.Locations;
import io.influence.spark.io.Runs;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * What a <em>partial</em> gradient store holds: the corpus rows it was extracted for ({@code extract.candidates =
 * true}: the union of the queries' candidate rows) and, per checkpoint, the parts added to it after its first write.
 * Written as {@code store/_candidates.json}; a store without it is exhaustive (every usable corpus row).
 *
 * <p>Layout of a partial store:
 * <pre>
 *   store/
 *     _candidates.json                  this record (replaced atomically: it is the commit point of an increment)
 *     checkpoint=step-100/              written by the first candidate extraction, as in an exhaustive store
 *       _store.json, _SUCCESS, part-*.parquet
 *       _added-2/                       rows added by the second extraction (new candidates only), when listed
 *         _SUCCESS, part-*.parquet      in {@code parts}; an unlisted one is a killed run's leftover
 * </pre>
 * A reader ({@link GradientStore#read}) takes a checkpoint folder's own files plus the parts listed here, so a run
 * killed before it replaced this file leaves the previous store as it was. {@code ids} are corpus row ids (a long
 * text's windows {@code <id>#w<k>} are covered when their row is); a bad row among them is covered but has no
 * gradient. {@code fingerprint} is the SHA-256 of the sorted ids, one per line.
 *
 * @param generation 1 for the first candidate extraction, +1 for each increment (a part is {@code _added-<generation>})
 * @param parts      per checkpoint name, its listed parts in order (absent or empty: the folder's own files only)
 */
public record CandidateCoverage(String format, int formatVersion, int generation, String fingerprint, int rows,
                                List<String> ids, Map<String, List<String>> parts) {

  public static final String FILE = "_candidates.json";
  public static final String FORMAT = "influence-candidate-store";
  public static final int FORMAT_VERSION = 1;
  /** Name prefix of an added part inside a checkpoint folder (hidden from Spark's listing of the folder). */
  public static final String PART_PREFIX = "_added-";

  private static final ObjectMapper JSON = new ObjectMapper()
      .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

  public CandidateCoverage {
    if (!FORMAT.equals(format) || formatVersion != FORMAT_VERSION) {
      throw new IllegalArgumentException("not a candidate store manifest of format " + FORMAT + " version "
          + FORMAT_VERSION + ": " + format + " " + formatVersion);
    }
    ids = List.copyOf(new TreeSet<>(Objects.requireNonNull(ids, "ids")));
    if (rows != ids.size() || !fingerprintOf(ids).equals(fingerprint)) {
      throw new IllegalArgumentException("the candidate store manifest lists " + ids.size() + " ids with fingerprint "
          + fingerprintOf(ids) + " but records rows = " + rows + ", fingerprint = " + fingerprint
          + ". HINT: the file was edited; delete the store and extract again");
    }
    Map<String, List<String>> copy = new TreeMap<>();
    Objects.requireNonNull(parts, "parts").forEach((k, v) -> copy.put(k, List.copyOf(v)));
    parts = java.util.Collections.unmodifiableMap(copy);
  }

  /** The first generation: {@code ids}, no added parts. */
  public static CandidateCoverage first(Collection<String> ids) {
    List<String> sorted = List.copyOf(new TreeSet<>(ids));
    return new CandidateCoverage(FORMAT, FORMAT_VERSION, 1, fingerprintOf(sorted), sorted.size(), sorted, Map.of());
  }

  /**
   * The next generation: these ids plus {@code added}, with {@code newParts} (checkpoint → part name) appended and the
   * parts of {@code rewritten} checkpoints (extracted again over every id, into their own folder) dropped.
   */
  public CandidateCoverage next(Collection<String> added, Map<String, String> newParts, Set<String> rewritten) {
    TreeSet<String> all = new TreeSet<>(ids);
    all.addAll(added);
    Map<String, List<String>> p = new LinkedHashMap<>();
    parts.forEach((k, v) -> {
      if (!rewritten.contains(k)) {
        p.put(k, new ArrayList<>(v));
      }
    });
    newParts.forEach((k, v) -> p.computeIfAbsent(k, x -> new ArrayList<>()).add(v));
    List<String> sorted = List.copyOf(all);
    return new CandidateCoverage(FORMAT, FORMAT_VERSION, generation + 1, fingerprintOf(sorted), sorted.size(), sorted,
        p);
  }

  /** The part name the next generation writes: {@code _added-<generation + 1>}. */
  @JsonIgnore
  public String nextPart() {
    return PART_PREFIX + (generation + 1);
  }

  /** The listed parts of a checkpoint, in order (empty when none). */
  public List<String> partsOf(String checkpoint) {
    return parts.getOrDefault(checkpoint, List.of());
  }

  /** The ids of {@code wanted} that this store does not cover, sorted. */
  public List<String> missing(Collection<String> wanted) {
    Set<String> have = new java.util.HashSet<>(ids);
    return new TreeSet<>(wanted).stream().filter(id -> !have.contains(id)).toList();
  }

  /** SHA-256 of the sorted distinct ids, one per line. */
  public static String fingerprintOf(Collection<String> ids) {
    return Runs.sha256(String.join("\n", new TreeSet<>(ids)));
  }

  /** The manifest of {@code store}, or empty for an exhaustive (or absent) store. */
  public static Optional<CandidateCoverage> read(Configuration conf, Path store) {
    Path file = new Path(store, FILE);
    if (!Locations.exists(conf, file)) {
      return Optional.empty();
    }
    try {
      return Optional.of(JSON.readValue(Locations.readString(conf, file), CandidateCoverage.class));
    } catch (JsonProcessingException | IllegalArgumentException e) {
      throw new IllegalArgumentException(file + ": not a valid candidate store manifest: " + e.getMessage()
          + ". HINT: it is written by `influence extract` with extract.candidates = true; delete the store and extract"
          + " again", e);
    }
  }

  /** {@link #read(Configuration, Path)} with the default Hadoop configuration. */
  public static Optional<CandidateCoverage> read(Path store) {
    return read(Locations.conf(), store);
  }

  /** Replaces {@code store/_candidates.json} atomically with this record: the commit of an extraction. */
  public void write(Configuration conf, Path store) {
    try {
      Locations.writeString(conf, new Path(store, FILE), JSON.writeValueAsString(this));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write the candidate store manifest: " + e.getMessage(), e);
    }
  }

  /** One line naming this store: rows and a short fingerprint. */
  public String describe() {
    return rows + " candidate rows (candidate set sha256 " + fingerprint.substring(0, 12) + ")";
  }

  /**
   * Refuses to read a partial store as what it is not. {@code candidates} are the rows a stage will score (null: the
   * stage ranks every training sequence, e.g. score without {@code score.candidates}, or flag). No-op for an
   * exhaustive store.
   */
  public static void requireCovers(Optional<CandidateCoverage> coverage, Collection<String> candidates, Path store,
      String stage) {
    if (coverage.isEmpty()) {
      return;
    }
    CandidateCoverage c = coverage.get();
    if (candidates == null) {
      throw new IllegalStateException("the gradient store " + store + " is partial: it holds the gradients of "
          + c.describe() + " (extract.candidates = true), not of the whole corpus, so `" + stage + "` would rank only"
          + " those rows as if they were the corpus. HINT: " + (stage.equals("score")
          ? "score with score.candidates = true, or " : "") + "extract the whole corpus with extract.candidates ="
          + " false into another output.dir (or pass --overwrite to replace this store)");
    }
    List<String> missing = c.missing(candidates);
    if (!missing.isEmpty()) {
      throw new IllegalStateException(missing.size() + " of the " + new TreeSet<>(candidates).size() + " candidate"
          + " rows of these queries are not in the gradient store " + store + ", e.g. "
          + missing.subList(0, Math.min(5, missing.size())) + "; it holds " + c.describe() + ". HINT: run `influence"
          + " extract` with extract.candidates = true again (it extracts only the missing rows, as a new part of the"
          + " store)");
    }
  }
}
