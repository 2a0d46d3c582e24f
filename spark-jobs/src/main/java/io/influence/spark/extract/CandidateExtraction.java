package io.influence.spark.extract;

import static org.apache.spark.sql.functions.col;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.spark.io.Corpus;
import io.influence.spark.io.Locations;
import io.influence.spark.progress.Progress;
import io.influence.spark.store.CandidateCoverage;
import io.influence.spark.store.GradientStore;
import io.influence.spark.store.StoreMetadata;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Extract with {@code extract.candidates = true}: per-example gradients of the candidate rows only, into a partial
 * store ({@link CandidateCoverage}). The first run writes each checkpoint over the candidates, as an exhaustive run
 * writes it over the corpus. A later run with more candidates (new queries) computes only the rows the store lacks
 * and writes them as a new part of each checkpoint ({@code _added-N}); the parts already there are not rewritten,
 * and the manifest that lists the parts is replaced last, in one atomic write, so a killed run leaves the previous
 * store as it was (its unlisted parts are deleted by the next run). A checkpoint whose content or corpus changed, or
 * that the store lacks, is extracted over every covered row into its own folder, as in an exhaustive store.
 */
final class CandidateExtraction {

  private static final Logger LOG = LoggerFactory.getLogger(CandidateExtraction.class);

  private CandidateExtraction() {}

  static ExtractJob.Result run(SparkSession spark, ExtractSpec spec) {
    Configuration conf = spark.sparkContext().hadoopConfiguration();
    Path store = spec.store();
    Optional<CandidateCoverage> before = CandidateCoverage.read(conf, store);
    List<String> present = GradientStore.checkpoints(store, conf);
    if (before.isEmpty() && !present.isEmpty()) {
      throw new IllegalStateException("the gradient store " + store + " holds an extraction of the whole corpus ("
          + present + "); extract.candidates = true would mix a partial store into it. HINT: extract the candidates"
          + " into another output.dir, or score this store with score.candidates = true as it is");
    }
    Set<String> wanted = spec.candidates();
    requireCorpusRows(spec, wanted);
    List<String> missing = before.map(c -> c.missing(wanted)).orElse(List.copyOf(new TreeSet<>(wanted)));
    Set<String> all = new TreeSet<>(wanted);
    before.ifPresent(c -> all.addAll(c.ids()));
    CandidateCoverage coverage = before.orElseGet(() -> CandidateCoverage.first(all));
    if (before.isPresent()) {
      int removed = GradientStore.removeUnlistedParts(conf, store, coverage);
      if (removed > 0) {
        LOG.info("deleted {} part(s) of an unfinished extraction under {}", removed, store);
      }
    } else {
      Locations.mkdirs(conf, store);
      coverage.write(conf, store);   // every checkpoint folder written from now on holds exactly these rows
    }
    String fingerprint = Corpus.fingerprint(spec.corpus());
    Map<Set<String>, TokenizedCorpus> tokenized = new HashMap<>();
    List<String> written = new ArrayList<>();
    List<String> skipped = new ArrayList<>();
    Map<String, String> newParts = new LinkedHashMap<>();
    Set<String> rewritten = new HashSet<>();
    long rows = 0;
    TokenizedCorpus.BadRowReport bad = new TokenizedCorpus.BadRowReport(0, List.of());
    try {
      for (RunCheckpoint c : spec.run().checkpoints()) {
        String name = ExtractJob.checkpointName(c);
        StoreMetadata meta = ExtractJob.metadata(spec, c, name).withCorpus(fingerprint);
        boolean increment = false;
        if (GradientStore.checkpoints(store, conf).contains(name)) {
          StoreMetadata stored = GradientStore.metadata(spark, store, name);
          if (stored.sameGradientSpace(meta) && stored.sameInputs(meta)) {
            if (before.isEmpty() || missing.isEmpty()) {
              LOG.info("checkpoint {} already holds the {} candidate rows in {}; skipping", name, all.size(), store);
              skipped.add(name);
              continue;
            }
            increment = true;
          } else if (stored.sameGradientSpace(meta)) {   // retrained, or the corpus was edited: every row again
            LOG.warn("checkpoint {} or the corpus changed since it was extracted; extracting its {} candidate rows"
                + " again", name, all.size());
            Locations.deleteRecursively(conf, GradientStore.folder(store, name));
          }
        }
        Set<String> ids = increment ? Set.copyOf(missing) : all;
        TokenizedCorpus corpus = tokenized.computeIfAbsent(ids, x -> TokenizedCorpus.prepare(spark,
            Corpus.spreadOverCores(spec.corpus().filter(col("id").isInCollection(x))),
            spec.run().checkpoints().get(0), spec.badRows(), spec.longText()));
        bad = corpus.badRows();
        String label = "extract " + name + (increment ? " (" + ids.size() + " new candidate rows)" : " (candidates)");
        try (Progress progress = Progress.start(spark.sparkContext(), label, corpus.size())) {
          var rowsOf = ExtractJob.gradients(spec, c, meta, corpus, progress.counter());
          if (increment) {
            GradientStore.writePart(spark, rowsOf, store, meta, coverage.nextPart());
            newParts.put(name, coverage.nextPart());
          } else {
            GradientStore.write(spark, rowsOf, store, meta);
            rewritten.add(name);
          }
          progress.finish();
        }
        written.add(name);
        rows += corpus.size();
      }
      if (before.isPresent() && !written.isEmpty()) {   // the commit: the new parts become part of the store
        CandidateCoverage next = coverage.next(wanted, newParts, rewritten);
        next.write(conf, store);
        LOG.info("gradient store {} now covers {} (+{} rows in parts {})", store, next.describe(), missing.size(),
            newParts);
      }
    } finally {
      tokenized.values().forEach(TokenizedCorpus::release);
    }
    return new ExtractJob.Result(written, skipped, bad, rows);
  }

  /** Every candidate id must be a corpus row id (candidates of another corpus would extract nothing for them). */
  private static void requireCorpusRows(ExtractSpec spec, Set<String> wanted) {
    Set<String> found = new HashSet<>();
    spec.corpus().select("id").filter(col("id").isInCollection(wanted)).collectAsList()
        .forEach(r -> found.add(r.getString(0)));
    if (found.size() < wanted.size()) {
      List<String> absent = new TreeSet<>(wanted).stream().filter(id -> !found.contains(id)).limit(5).toList();
      throw new IllegalArgumentException((wanted.size() - found.size()) + " of the " + wanted.size() + " candidate"
          + " rows are not rows of the corpus, e.g. " + absent + ". HINT: compute the candidates from this corpus"
          + " (`influence candidates` with the same input.corpus)");
    }
  }
}
