package io.influence.spark.plan;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.plan.CostModel;
import io.influence.core.plan.GradientSpace;
import io.influence.spark.config.BadRows;
import io.influence.spark.config.LongText;
import io.influence.spark.extract.TokenizedCorpus;
import io.influence.spark.io.Corpus;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * What the planner needs to know about the corpus, from one cheap pass: the corpus tokenised and checked exactly as
 * extract does it ({@link TokenizedCorpus}, spread over the cores as extract spreads it), then each partition's
 * sequence lengths in order, which fix every batch's shape (batches are consecutive rows of a partition, padded to
 * the longest), and a few sequences to calibrate the model on. No gradient is computed.
 *
 * @param lengths  per partition, the token counts of its usable rows in order
 * @param idChars  characters of all usable row ids
 * @param sample   the first rows' token ids (at most the size asked for)
 * @param seconds  wall time of tokenising and checking the corpus (what extract and fit-ekfac do again), after a
 *                 warm-up on a few rows
 */
public record CorpusScan(List<int[]> lengths, long idChars, List<int[]> sample, TokenizedCorpus.BadRowReport badRows,
                         double seconds) {

  /** Usable rows. */
  public long rows() {
    long n = 0;
    for (int[] p : lengths) {
      n += p.length;
    }
    return n;
  }

  /** Tokens of the usable rows. */
  public long tokens() {
    long n = 0;
    for (int[] p : lengths) {
      for (int x : p) {
        n += x;
      }
    }
    return n;
  }

  /** The longest usable row. */
  public int maxLength() {
    int m = 0;
    for (int[] p : lengths) {
      for (int x : p) {
        m = Math.max(m, x);
      }
    }
    return m;
  }

  /** Mean characters of a row id. */
  public int meanIdChars() {
    long r = rows();
    return r == 0 ? 0 : (int) Math.round((double) idChars / r);
  }

  /** What a per-batch count sums to over every batch of {@code batchSize} consecutive rows of each partition. */
  public interface BatchCost {
    double of(int batch, int seqLen, long tokens);
  }

  /** {@code cost} summed over the batches extract would form. */
  public double overBatches(int batchSize, BatchCost cost) {
    double sum = 0;
    for (int[] p : lengths) {
      for (int start = 0; start < p.length; start += batchSize) {
        int end = Math.min(p.length, start + batchSize);
        int max = 0;
        long tokens = 0;
        for (int i = start; i < end; i++) {
          max = Math.max(max, p[i]);
          tokens += p[i];
        }
        sum += cost.of(end - start, max, tokens);
      }
    }
    return sum;
  }

  /** The per-example gradient pass FLOPs of every batch of one checkpoint (see {@link CostModel#passFlops}). */
  public double passFlops(CostModel cost, int batchSize, GradientSpace space) {
    return overBatches(batchSize, (b, t, n) -> cost.passFlops(b, t, n, space));
  }

  /** Scans {@code corpus} against checkpoint {@code first}; keeps {@code sampleRows} sequences for calibration. */
  public static CorpusScan of(SparkSession spark, Dataset<Row> corpus, RunCheckpoint first, BadRows badRows,
                              LongText longText, int sampleRows) {
    // warm-up on a few rows (tokenizer, code generation), so that the timed pass is what a stage's pass costs
    int slots = spark.sparkContext().defaultParallelism();
    TokenizedCorpus.prepare(spark, corpus.limit(8 * slots), first, BadRows.SKIP, longText).release();
    long t0 = System.nanoTime();
    TokenizedCorpus tokenized = TokenizedCorpus.prepare(spark, Corpus.spreadOverCores(corpus), first, badRows, longText);
    double seconds = (System.nanoTime() - t0) / 1e9;
    try {
      List<Partition> parts = tokenized.rows().javaRDD().mapPartitions(new Lengths()).collect();
      List<int[]> lengths = new ArrayList<>();
      long idChars = 0;
      for (Partition p : parts) {
        lengths.add(p.lengths());
        idChars += p.idChars();
      }
      List<int[]> sample = new ArrayList<>();
      for (Row r : tokenized.rows().limit(sampleRows).collectAsList()) {
        List<Integer> t = r.getList(1);
        sample.add(t.stream().mapToInt(Integer::intValue).toArray());
      }
      return new CorpusScan(lengths, idChars, sample, tokenized.badRows(), seconds);
    } finally {
      tokenized.release();
    }
  }

  /** One partition's lengths and id characters. */
  record Partition(int[] lengths, long idChars) implements Serializable {}

  private static final class Lengths implements FlatMapFunction<Iterator<Row>, Partition> {
    @Override
    public Iterator<Partition> call(Iterator<Row> rows) {
      int[] out = new int[64];
      int n = 0;
      long chars = 0;
      while (rows.hasNext()) {
        Row r = rows.next();
        if (n == out.length) {
          out = java.util.Arrays.copyOf(out, n * 2);
        }
        out[n++] = r.getList(1).size();
        chars += r.getString(0).length();
      }
      return List.of(new Partition(java.util.Arrays.copyOf(out, n), chars)).iterator();
    }
  }
}
