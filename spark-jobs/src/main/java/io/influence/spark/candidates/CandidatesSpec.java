package io.influence.spark.candidates;

import io.influence.spark.config.CandidatesSettings;
import io.influence.spark.io.Queries;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * What {@link CandidatesJob#run} computes: per query, the top-M corpus rows by the lexical score of the query's
 * text (prompt + completion) against the row's text.
 *
 * @param corpus    the corpus as {@code io.influence.spark.io.Corpus} reads it ({@code id, text, input_ids})
 * @param queries   at least one query, ids distinct
 * @param settings  scorer, tokens, M (or fraction) and feature count
 * @param tokenizer with {@link CandidateTokens#TOKENIZER}: the checkpoint location whose {@code tokenizer.json}
 *                  encodes text ({@code io.influence.spark.io.Runs#location}); unused (may be null) with words
 * @param folder    where the fitted model ({@code model/}) and the lists ({@code lists/}) are kept and reused from;
 *                  null to keep nothing
 * @param scores    with {@code settings.source() == SCORES}: the resolved score folder the candidates are read from
 */
public record CandidatesSpec(Dataset<Row> corpus, List<Queries.Query> queries, CandidatesSettings settings,
    String tokenizer, Path folder, Path scores) {

  /** The lexical prefilter. */
  public CandidatesSpec(Dataset<Row> corpus, List<Queries.Query> queries, CandidatesSettings settings,
      String tokenizer, Path folder) {
    this(corpus, queries, settings, tokenizer, folder, null);
  }

  public CandidatesSpec {
    Objects.requireNonNull(corpus, "corpus");
    Objects.requireNonNull(settings, "settings");
    queries = List.copyOf(Objects.requireNonNull(queries, "queries"));
    if (queries.isEmpty()) {
      throw new IllegalArgumentException("no queries to find candidates for");
    }
    Set<String> ids = new HashSet<>();
    for (Queries.Query q : queries) {
      if (!ids.add(q.id())) {
        throw new IllegalArgumentException("query id '" + q.id() + "' appears twice. HINT: give each query a unique id.");
      }
    }
    if (settings.source() == CandidateSource.SCORES && scores == null) {
      throw new IllegalArgumentException("candidates.source = scores needs the score folder to read");
    }
    if (settings.source() == CandidateSource.LEXICAL && settings.tokens() == CandidateTokens.TOKENIZER
        && tokenizer == null) {
      throw new IllegalArgumentException("influence.candidates.tokens = tokenizer needs a checkpoint with a "
          + "tokenizer.json. HINT: set input.run, or use candidates.tokens = words");
    }
  }
}
