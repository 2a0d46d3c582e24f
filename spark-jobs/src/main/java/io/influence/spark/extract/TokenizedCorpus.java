package io.influence.spark.extract;

import static org.apache.spark.sql.functions.col;

import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.model.CausalLm;
import io.influence.core.tokenizer.Tokenizer;
import io.influence.spark.config.BadRows;
import io.influence.spark.config.Choices;
import io.influence.spark.config.LongText;
import io.influence.spark.io.Runs;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.storage.StorageLevel;

/**
 * The corpus as training sequences of token ids, checked against the model: each row's {@code input_ids}, or its
 * {@code text} encoded with the checkpoint's {@code tokenizer.json}, cut by the {@link LongText} policy when it is
 * longer than the model's context (windows {@code <id>#w<k>}, or its first context tokens). A row is bad when it
 * has fewer than two tokens (nothing to predict), more than the model's context (policy {@code error}), ids outside
 * the vocabulary, or an id shaped like a window id; bad rows are counted and named, and either fail the job or are
 * left out.
 */
public final class TokenizedCorpus {

  static final StructType SCHEMA = new StructType()
      .add("id", DataTypes.StringType, false)
      .add("tokens", DataTypes.createArrayType(DataTypes.IntegerType, false), true)
      .add("problem", DataTypes.StringType, true);

  private static final int NAMED = 20;

  /** Bad rows found: how many, and the first few with the reason. */
  public record BadRowReport(long count, List<String> examples) {}

  private final Dataset<Row> good;
  private final Dataset<Row> all;
  private final BadRowReport bad;
  private final long size;

  private TokenizedCorpus(Dataset<Row> all, Dataset<Row> good, BadRowReport bad, long size) {
    this.all = all;
    this.good = good;
    this.bad = bad;
    this.size = size;
  }

  /**
   * Tokenises and checks {@code corpus} against the model of checkpoint {@code first}; {@code policy} says what bad
   * rows do, {@code longText} what a row longer than the model's context becomes.
   */
  public static TokenizedCorpus prepare(SparkSession spark, Dataset<Row> corpus, RunCheckpoint first,
                                 BadRows policy, LongText longText) {
    Path checkpoint = first.dir();
    CausalLm model = ExecutorModels.model(checkpoint.toString(), first.sha256());
    int context = model.config().maxPositions();
    int vocab = model.config().vocabSize();
    boolean needsTokenizer = !corpus.filter(col("input_ids").isNull()).isEmpty();
    if (needsTokenizer && ExecutorModels.tokenizer(checkpoint.toString()).isEmpty()) {
      throw new IllegalArgumentException("the corpus has rows with `text` only, but checkpoint " + checkpoint
          + " has no tokenizer.json. HINT: save the tokenizer next to the checkpoint, or give `input_ids`");
    }
    Dataset<Row> all = corpus.mapPartitions(new Tokenize(Runs.location(first), context, vocab, longText), Encoders.row(SCHEMA))
        .persist(StorageLevel.MEMORY_AND_DISK());
    Dataset<Row> problems = all.filter(col("problem").isNotNull());
    long count = problems.count();
    List<String> named = new ArrayList<>();
    for (Row r : problems.orderBy("id").limit(NAMED).collectAsList()) {
      named.add(r.getString(0) + " (" + r.getString(2) + ")");
    }
    BadRowReport bad = new BadRowReport(count, named);
    if (count > 0 && policy == BadRows.FAIL) {
      all.unpersist();
      throw new IllegalArgumentException(count + " corpus row(s) cannot be used, e.g. " + named
          + ". HINT: fix them, or set influence.input.bad-rows = skip to leave them out (they are then listed in"
          + " the stage summary)");
    }
    Dataset<Row> good = all.filter(col("problem").isNull()).select("id", "tokens");
    return new TokenizedCorpus(all, good, bad, good.count());
  }

  /** Usable rows: {@code (id, tokens)}. */
  public Dataset<Row> rows() {
    return good;
  }

  /** Number of usable rows. */
  public long size() {
    return size;
  }

  public BadRowReport badRows() {
    return bad;
  }

  /** Drops the cached tokenised rows. */
  public void release() {
    all.unpersist();
  }

  /** Encodes text rows and checks every row against the model's context and vocabulary. */
  static final class Tokenize implements MapPartitionsFunction<Row, Row> {
    private final String checkpoint;
    private final int context;
    private final int vocab;
    private final LongText longText;

    Tokenize(String checkpoint, int context, int vocab, LongText longText) {
      this.checkpoint = checkpoint;
      this.context = context;
      this.vocab = vocab;
      this.longText = longText;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> rows) {
      Optional<Tokenizer> tokenizer = ExecutorModels.tokenizer(checkpoint);
      List<Row> out = new ArrayList<>();
      while (rows.hasNext()) {
        Row r = rows.next();
        String id = r.getString(0);
        int[] tokens;
        if (!r.isNullAt(2)) {
          List<Integer> ids = r.getList(2);
          tokens = new int[ids.size()];
          for (int i = 0; i < tokens.length; i++) {
            Integer v = ids.get(i);
            tokens[i] = v == null ? -1 : v;
          }
        } else if (!r.isNullAt(1)) {
          tokens = tokenizer.orElseThrow().encodeDocument(r.getString(1));
        } else {
          out.add(RowFactory.create(id, null, "no text and no input_ids"));
          continue;
        }
        if (LongText.looksLikeWindow(id)) {
          out.add(RowFactory.create(id, null, "its id ends in " + LongText.SEPARATOR + " and digits, which names "
              + "windows of long texts (influence." + LongText.KEY + "); rename the row"));
          continue;
        }
        List<int[]> pieces = longText.pieces(tokens, context);
        for (int k = 0; k < pieces.size(); k++) {
          int[] piece = pieces.get(k);
          out.add(RowFactory.create(longText.pieceId(id, k, tokens.length, context), piece, problem(piece)));
        }
      }
      return out.iterator();
    }

    private String problem(int[] tokens) {
      if (tokens.length < 2) {
        return tokens.length == 0 ? "empty" : "a single token (nothing to predict)";
      }
      if (tokens.length > context) {
        return tokens.length + " tokens, over the model's context of " + context + " with influence." + LongText.KEY
            + " = " + Choices.word(longText) + "; set it to windows or truncate to use the text";
      }
      for (int i = 0; i < tokens.length; i++) {
        if (tokens[i] < 0 || tokens[i] >= vocab) {
          return "token id " + tokens[i] + " at position " + i + " is outside the vocabulary [0, " + vocab + ")";
        }
      }
      return null;
    }
  }
}
