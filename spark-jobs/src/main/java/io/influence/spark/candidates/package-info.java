/**
 * The lexical candidate prefilter (Spark MLlib): per query, the top-M training rows by TF-IDF cosine or BM25, so that
 * extraction and scoring can run on candidates only at corpus scale. {@link io.influence.spark.candidates.CandidatesJob}
 * is the job, {@link io.influence.spark.candidates.LexicalModel} the fitted corpus side.
 */
package io.influence.spark.candidates;
