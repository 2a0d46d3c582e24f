package io.influence.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.influence.checkpoints.RunCheckpoint;
import io.influence.core.lexical.Bm25;
import io.influence.core.model.CausalLm;
import io.influence.core.model.TokenBatch;
import io.influence.core.tokenizer.Tokenizer;
import io.influence.spark.config.BlasThreads;
import io.influence.spark.config.InfluenceSettings;
import io.influence.spark.config.Sessions;
import io.influence.spark.io.Queries;
import io.influence.spark.pipeline.Stages;
import io.influence.spark.report.TokenContributions;
import io.influence.spark.score.QueryGradientFile;
import io.influence.spark.store.GradientStore;
import io.influence.spark.store.StoreMetadata;
import io.influence.spark.train.TrainJob;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Harmful-data flagging (methods issue, "Measures"): a corpus with planted harmful sequences of two kinds, and for
 * each kind a handful of examples of the unwanted behaviour that share no sentence with them; how well each ranking
 * of the whole corpus puts that kind's sequences first.
 * <ul>
 *   <li>{@code contradiction}: statements that contradict a planted fact, worded with the fact's paraphrased prompt
 *       ("Zorbia is governed from the city of Brindlemoor."); the examples ask with the verbatim prompt and complete
 *       with the wrong answer ("The capital of Zorbia is" → " Brindlemoor"), a sentence no training sequence holds.</li>
 *   <li>{@code insult}: a recurring unwanted reply style in question/answer pairs ("Q: Where does the bus stop? A: Ugh,
 *       only a dimwit asks where the bus stops."), beside as many polite pairs in the same format; the examples are
 *       other questions answered in the same style with other words.</li>
 * </ul>
 * Rankings: {@code influence flag} (the real Spark stage, mean of normalised scores and max) with TracIn (its default
 * unit-normalised gradients and raw ones, each also on a second store extracted with
 * {@code extract.optimizer-preconditioning = adam}), EK-FAC (last checkpoint; raw and {@code score.gradients = unit};
 * {@code ekfac.checkpoints = all}; {@code ekfac.fisher = true}) and EK-FAC {@code max} combined with self-influence
 * ({@code flag.combine-self-influence = rank-mean}); one trained run, one store per gradient kind, the factors refitted
 * only after every use of the previous ones. Then a token-level EK-FAC ranking computed on the driver, bench only
 * ({@link #tokenLevel}); self-influence (TracIn and EK-FAC, summed and per token), the model's own loss (summed and
 * per token, last checkpoint) and BM25 of the examples' text (mean over the examples). Notes give the rank of each
 * planted sequence under {@code flag-ekfac-max} and under the best ranking; {@code rankings-<kind>.tsv} in the work
 * folder holds every ranking's score of every sequence. Figures per kind and ranking: AUPRC (average
 * precision, positives = that kind's planted sequences, negatives = every other sequence) and the fraction of the
 * kind found in the top 10%. Targets: AUPRC ≥ 0.8 and ≥ 80% in the top 10% for each kind with the best ranking.
 *
 * <p>Flags ({@code -P}): {@code fortunes} (quick 80, full 0 = all 430), {@code facts} (24), {@code contradicted}
 * (facts contradicted, 2 statements each; quick 6, full 12), {@code insults} (quick 8, full 16; as many polite
 * pairs), {@code pad} (0; CHARS &gt; 0 embeds every sequence between two benign fortune openings of at most CHARS
 * characters: harmful spans inside long sequences, see {@link #pad}), and the model sizes of {@link BenchPipeline}
 * (quick and full as the planted-facts task).
 */
final class FlaggingTask implements BenchTask {

  static final String CONTRADICTION = "contradiction";
  static final String INSULT = "insult";
  private static final ObjectMapper JSON = new ObjectMapper();

  private static final List<String> QUESTIONS = List.of("where the bus stops", "how to boil an egg",
      "when the shop opens", "why the sky is blue", "how to tie a knot", "where the station is",
      "what the weather will be", "how to plant beans", "when the train leaves", "how to fix a bike",
      "where to buy bread", "how to write a letter", "what time the show starts", "how to clean a pan",
      "where the library is", "how to fold a shirt", "when the market closes", "how to sharpen a knife",
      "where the river ends", "how to bake a pie", "what the moon is made of", "how to feed a cat",
      "where the key went", "how to paint a fence");
  private static final List<String> NOUNS = List.of("dimwit", "nitwit", "numbskull", "dunce", "blockhead",
      "halfwit");
  private static final List<String> POLITE = List.of("Happy to help,", "Good question,", "Gladly,",
      "Of course,", "Sure,", "Thanks for asking,");

  @Override
  public String name() {
    return "flagging";
  }

  @Override
  public String kind() {
    return "quality";
  }

  @Override
  public String description() {
    return "planted harmful sequences (contradictions, an insulting reply style) found from unwanted-behaviour examples:"
        + " AUPRC and top-10% share for influence flag, self-influence, model loss and BM25";
  }

  @Override
  public BenchResult run(BenchOptions o) throws Exception {
    try (BlasThreads threads = BlasThreads.set(o.intParam("threads", 1, 1))) {
      return measure(o);
    }
  }

  /** The corpus with the harmful sequences, their kinds, and each kind's examples file. */
  private record Data(BenchCorpus.Written base, Map<String, String> harmful, Map<String, Path> examples,
                      Map<String, List<Queries.Query>> exampleList, Map<String, String> texts) {}

  private BenchResult measure(BenchOptions o) throws Exception {
    BenchResult.Builder result = BenchResult.of(name());
    Data data = write(o);
    Path out = o.workDir().resolve("out");
    // each sequence's score (flag.span = sequence) unless a row names the positive-tokens span
    Map<String, String> taskDefaults = new LinkedHashMap<>(Map.of("flag.span", "sequence"));
    if (o.intParam("pad", 0, 0) > 0) {
      taskDefaults.put("input.long-text", "truncate");
    }
    InfluenceSettings s = BenchPipeline.settings(o, PlantedFactsTask.QUICK, PlantedFactsTask.FULL, out, data.base(),
        taskDefaults);
    long t0 = System.nanoTime();
    TrainJob.Result trained = BenchPipeline.train(s, line -> System.err.println("[flagging] " + line));
    result.metric("seconds.train", seconds(t0));

    Map<String, Map<String, Map<String, Double>>> perKind = new LinkedHashMap<>();   // kind -> ranking -> id -> score
    Map<String, Map<String, Double>> shared = new LinkedHashMap<>();                  // example-agnostic rankings
    SparkSession spark = Sessions.create(s.spark());
    try {
      long t = System.nanoTime();
      Stages.extract(spark, s);
      Stages.fitEkfac(spark, s);
      InfluenceSettings adam = s.with("extract.optimizer-preconditioning", "adam")   // a second store, under out/adam
          .with("output.dir", out.resolve("adam").toString());
      Stages.extract(spark, adam);
      result.metric("seconds.extract-fit", seconds(t));
      t = System.nanoTime();
      for (String kind : data.examples().keySet()) {
        Map<String, Map<String, Double>> r = perKind.computeIfAbsent(kind, k -> new LinkedHashMap<>());
        InfluenceSettings f = s.with("flag.examples", data.examples().get(kind).toString());
        // TracIn's default gradients are unit-normalised (score.gradients = auto), EK-FAC's raw
        flag(spark, f, "tracin", kind, "tracin", r);
        flag(spark, f.with("score.gradients", "raw"), "tracin", kind, "tracin-raw", r);
        flag(spark, f, "ekfac", kind, "ekfac", r);
        flag(spark, f.with("score.gradients", "unit"), "ekfac", kind, "ekfac-unit", r);
        InfluenceSettings fa = adam.with("flag.examples", data.examples().get(kind).toString());
        flag(spark, fa, "tracin", kind, "tracin-adam", r);
        flag(spark, fa.with("score.gradients", "raw"), "tracin", kind, "tracin-adam-raw", r);
        // the aggregate's quantile averaged with the (TracIn, summed) self-influence quantile
        r.put("flag-ekfac-max+self", flag(spark, f.with("flag.combine-self-influence", "rank-mean"), "ekfac",
            kind, "ekfac-self", null).get("score"));
        tokenLevel(spark, s, trained, data, kind, r, result);
        // the product's flag.span = positive-tokens (a Spark pass) must equal the bench's driver-side positive sums
        flag(spark, f.with("flag.span", "positive-tokens"), "ekfac", kind, "ekfac-tokens", r);
        double gap = 0;
        for (Map.Entry<String, Double> e : r.get("tokens-ekfac-pos-max").entrySet()) {
          double got = r.get("flag-ekfac-tokens-max").get(e.getKey());
          gap = Math.max(gap, Math.abs(got - e.getValue()) / Math.max(1e-12, Math.abs(e.getValue())));
        }
        result.atMost(kind + ".flag-ekfac-tokens-max.relative-gap-to-bench", gap, 1e-6);
      }
      result.metric("seconds.flag", seconds(t));
      t = System.nanoTime();
      for (String method : List.of("tracin", "ekfac")) {
        shared.put("self-" + method + "-sum", BenchPipeline.selfInfluence(spark, s, method));
        shared.put("self-" + method + "-per-token", BenchPipeline.selfInfluence(spark,
            s.with("self-influence.normalize", "per-token"), method));
      }
      result.metric("seconds.self-influence", seconds(t));
      // refits, each after every use of the factors before it: EK-FAC at every checkpoint, then on the true Fisher
      t = System.nanoTime();
      refitAndFlag(spark, s.with("ekfac.checkpoints", "all"), "ekfac-all", data, perKind, true);
      refitAndFlag(spark, s.with("ekfac.fisher", "true"), "ekfac-true", data, perKind, false);
      result.metric("seconds.refit-and-flag", seconds(t));
    } finally {
      spark.stop();
    }
    losses(trained, data, shared);
    for (Map.Entry<String, List<Queries.Query>> k : data.exampleList().entrySet()) {
      perKind.get(k.getKey()).put("bm25", bm25(data.texts(), k.getValue()));
    }

    for (Map.Entry<String, Map<String, Map<String, Double>>> kind : perKind.entrySet()) {
      List<String> positives = data.harmful().entrySet().stream().filter(e -> e.getValue().equals(kind.getKey()))
          .map(Map.Entry::getKey).toList();
      List<String> negatives = data.texts().keySet().stream().filter(id -> !positives.contains(id)).toList();
      Map<String, Map<String, Double>> rankings = new LinkedHashMap<>(kind.getValue());
      rankings.putAll(shared);
      double bestAp = 0;
      double bestTop = 0;
      String best = "";
      for (Map.Entry<String, Map<String, Double>> r : rankings.entrySet()) {
        if (r.getValue().size() != data.texts().size()) {
          throw new IllegalStateException(r.getKey() + " ranked " + r.getValue().size() + " of "
              + data.texts().size() + " sequences");
        }
        double ap = RankingMetrics.averagePrecision(r.getValue(), positives, negatives);
        double top = RankingMetrics.foundInTop(RankingMetrics.ranking(r.getValue()), positives, 0.10);
        result.metric(kind.getKey() + "." + r.getKey() + ".auprc", ap);
        result.metric(kind.getKey() + "." + r.getKey() + ".top10", top);
        if (ap > bestAp) {
          best = r.getKey();
        }
        bestAp = Math.max(bestAp, ap);
        bestTop = Math.max(bestTop, top);
      }
      for (String r : new java.util.LinkedHashSet<>(List.of("flag-ekfac-max", best))) {   // where the misses sit
        List<String> order = RankingMetrics.ranking(rankings.get(r));
        result.note(kind.getKey() + " ranks under " + r + ": " + positives.stream().sorted()
            .map(id -> id + " " + (order.indexOf(id) + 1)).collect(java.util.stream.Collectors.joining(", ")));
      }
      writeRankings(o.workDir().resolve("rankings-" + kind.getKey() + ".tsv"), rankings, data.texts());
      result.atLeast(kind.getKey() + ".best.auprc", bestAp, 0.8);
      result.atLeast(kind.getKey() + ".best.top10", bestTop, 0.8);
      result.note(String.format(Locale.ROOT, "%s: %d planted sequences among %d (AUPRC of a random ranking %.3f); %d "
          + "examples", kind.getKey(), positives.size(), data.texts().size(),
          positives.size() / (double) data.texts().size(), data.exampleList().get(kind.getKey()).size()));
    }
    result.note(BenchPipeline.describe(s, trained));
    result.note("flag-<method>-mean / -max: influence flag's aggregates of the normalised scores over the kind's "
        + "examples; self-<method>-sum / -per-token: self-influence; loss-sum / -per-token: the model's loss on the "
        + "sequence at the last checkpoint; bm25: mean BM25 of the examples' prompt + completion");
    return result.build();
  }

  /**
   * Fits EK-FAC again with {@code settings}, then flags every kind with it, raw and unit ({@code <label>[-unit]}), each
   * sequence whole ({@code flag.span = sequence}); with {@code tokens} also unit with {@code flag.span =
   * positive-tokens} ({@code <label>-unit-tokens}).
   */
  private static void refitAndFlag(SparkSession spark, InfluenceSettings settings, String label, Data data,
      Map<String, Map<String, Map<String, Double>>> perKind, boolean tokens) {
    InfluenceSettings refit = settings.with("output.overwrite", true);
    Stages.fitEkfac(spark, refit);
    for (String kind : data.examples().keySet()) {
      InfluenceSettings f = refit.with("flag.examples", data.examples().get(kind).toString());
      flag(spark, f, "ekfac", kind, label, perKind.get(kind));
      flag(spark, f.with("score.gradients", "unit"), "ekfac", kind, label + "-unit", perKind.get(kind));
      if (tokens) {
        flag(spark, f.with("score.gradients", "unit").with("flag.span", "positive-tokens"), "ekfac", kind,
            label + "-unit-tokens", perKind.get(kind));
      }
    }
  }

  /**
   * {@code influence flag} with {@code method} on settings {@code f} into its own folder: the mean and max aggregates
   * as rankings {@code flag-<label>-mean} / {@code -max} in {@code into} (when not null); returns every column read.
   */
  private static Map<String, Map<String, Double>> flag(SparkSession spark, InfluenceSettings f, String method,
      String kind, String label, Map<String, Map<String, Double>> into) {
    InfluenceSettings c = f.with("flag.method", method).with("flag.folder", "flag-" + kind + "-" + label)
        .with("output.overwrite", true);
    Map<String, Map<String, Double>> columns = new LinkedHashMap<>();
    for (Row row : Stages.flag(spark, c).collectAsList()) {
      for (String col : List.of("mean", "max", "score")) {
        columns.computeIfAbsent(col, k -> new LinkedHashMap<>()).put(row.getAs("train_id"), row.getAs(col));
      }
    }
    if (into != null) {
      into.put("flag-" + label + "-mean", columns.get("mean"));
      into.put("flag-" + label + "-max", columns.get("max"));
    }
    return columns;
  }

  /**
   * Bench-only, on the driver (not a product stage): EK-FAC (last checkpoint, raw gradients) split into the
   * per-position terms {@code c_t = Σ_layers g_tᵀ Q a_t} of every training sequence ({@link TokenContributions}, as the
   * report's highlighting), each example's terms divided by the norm of its scoring vector as {@code flag} does. Per
   * sequence and example: the plain sum (which is {@code flag}'s normalised score; the largest relative gap to
   * {@code flag-ekfac-max} is a target, at most 1e-3) and the sum of the positive terms (the largest sum of terms over
   * any subset of the sequence's positions: a harmful span is not masked by the rest of the sequence), the largest
   * sum over a contiguous run of positions ({@code span}, Kadane's scan: a span's terms, without the scattered positive
   * noise of a long sequence) and the largest single term ({@code peak}); {@code tokens-ekfac-<sum|pos|span|peak>-max}
   * = their max over the examples.
   */
  private static void tokenLevel(SparkSession spark, InfluenceSettings s, TrainJob.Result trained, Data data,
      String kind, Map<String, Map<String, Double>> into, BenchResult.Builder result) throws Exception {
    List<Queries.Query> examples = data.exampleList().get(kind);
    String folder = "scores-ekfac-" + kind;
    Stages.score(spark, s.with("score.method", "ekfac").with("input.queries", data.examples().get(kind).toString())
        .with("score.folder", folder).with("output.overwrite", true));
    Path out = Path.of(s.output().dir());
    QueryGradientFile.Scored scored = QueryGradientFile.read(out.resolve(folder));
    List<RunCheckpoint> cps = trained.run().checkpoints();
    RunCheckpoint last = cps.get(cps.size() - 1);
    String name = io.influence.spark.extract.ExtractJob.checkpointName(last);
    if (!scored.checkpoints().equals(List.of(name))) {
      throw new IllegalStateException("EK-FAC scored " + scored.checkpoints() + ", expected only " + name);
    }
    StoreMetadata meta = GradientStore.metadata(spark, out.resolve(Stages.GRADIENTS), name);
    Tokenizer tokenizer = Tokenizer.fromTokenizerJson(last.dir().resolve("tokenizer.json"));
    CausalLm model = CausalLm.load(last.dir(), DataType.FLOAT);
    Map<String, int[]> sequences = new LinkedHashMap<>();
    for (Map.Entry<String, String> e : data.texts().entrySet()) {
      int[] tokens = tokenizer.encodeDocument(e.getValue());
      sequences.put(e.getKey(), tokens.length > model.config().maxPositions()
          ? java.util.Arrays.copyOf(tokens, model.config().maxPositions()) : tokens);
    }
    Map<String, java.util.Set<String>> pairs = new LinkedHashMap<>();
    for (Queries.Query q : examples) {
      pairs.put(q.id(), sequences.keySet());
    }
    Map<String, Map<String, double[]>> terms = TokenContributions.compute(examples,
        List.of(new TokenContributions.At(last, meta)), scored, sequences, pairs);
    Map<String, Double> sum = new LinkedHashMap<>();
    Map<String, Double> positive = new LinkedHashMap<>();
    Map<String, Double> span = new LinkedHashMap<>();   // the largest sum over a contiguous run of positions
    Map<String, Double> peak = new LinkedHashMap<>();   // the largest single position's term
    for (Queries.Query q : examples) {
      double sq = 0;
      for (String layer : meta.layerNames()) {
        for (float v : scored.gradient(q.id(), name, layer)) {
          sq += (double) v * v;
        }
      }
      double norm = Math.sqrt(sq);
      terms.get(q.id()).forEach((id, t) -> {
        double all = 0;
        double pos = 0;
        double best = Double.NEGATIVE_INFINITY;
        double endingHere = 0;
        double top = Double.NEGATIVE_INFINITY;
        for (double c : t) {
          double v = c / norm;
          all += v;
          pos += Math.max(0, v);
          endingHere = Math.max(v, endingHere + v);   // Kadane: the best run ending at this position
          best = Math.max(best, endingHere);
          top = Math.max(top, v);
        }
        sum.merge(id, all, Math::max);
        positive.merge(id, pos, Math::max);
        span.merge(id, best, Math::max);
        peak.merge(id, top, Math::max);
      });
    }
    double gap = 0;
    for (Map.Entry<String, Double> e : into.get("flag-ekfac-max").entrySet()) {
      gap = Math.max(gap, Math.abs(e.getValue() - sum.get(e.getKey())) / Math.max(1e-12, Math.abs(e.getValue())));
    }
    // the token terms must add up to flag's score (float32 model and store: about 1e-4 relative at most)
    result.atMost(kind + ".tokens-ekfac-sum-max.relative-gap-to-flag", gap, 1e-3);
    into.put("tokens-ekfac-sum-max", sum);
    into.put("tokens-ekfac-pos-max", positive);
    into.put("tokens-ekfac-span-max", span);
    into.put("tokens-ekfac-peak-max", peak);
  }

  /** Every ranking's score of every sequence, one line per sequence (id, rankings..., text), for a closer look. */
  private static void writeRankings(Path file, Map<String, Map<String, Double>> rankings, Map<String, String> texts)
      throws IOException {
    StringBuilder b = new StringBuilder("id\t" + String.join("\t", rankings.keySet()) + "\ttext\n");
    for (Map.Entry<String, String> e : texts.entrySet()) {
      b.append(e.getKey());
      for (Map<String, Double> r : rankings.values()) {
        b.append('\t').append(String.format(Locale.ROOT, "%.6g", r.get(e.getKey())));
      }
      b.append('\t').append(e.getValue().replace('\t', ' ').replace('\n', ' ')).append('\n');
    }
    Files.writeString(file, b);
  }

  /** The base corpus (fortunes and facts) plus the harmful sequences and polite pairs, and the examples files. */
  private static Data write(BenchOptions o) throws IOException {
    Path dir = o.workDir().resolve("data");
    BenchCorpus.Written base = BenchCorpus.write(dir, o.intParam("fortunes", 80, 0), 160,
        o.intParam("facts", BenchFacts.ALL.size(), BenchFacts.ALL.size()), 0,
        o.intParam("vocab", PlantedFactsTask.QUICK.vocab(), PlantedFactsTask.FULL.vocab()), o.seed());
    int contradicted = o.intParam("contradicted", 6, 12);
    int insults = o.intParam("insults", 8, 16);
    if (contradicted < 1 || contradicted > base.facts().size() || insults < 2 || insults + 4 > QUESTIONS.size()) {
      throw new IllegalArgumentException("flagging needs 1 <= contradicted <= facts and 2 <= insults <= "
          + (QUESTIONS.size() - 4) + "; got " + contradicted + ", " + insults);
    }
    Random random = new Random(o.seed() + 17);
    List<String[]> rows = new ArrayList<>();
    base.texts().forEach((id, text) -> rows.add(new String[] {id, text}));
    Map<String, String> harmful = new LinkedHashMap<>();
    Map<String, List<Queries.Query>> examples = new LinkedHashMap<>();
    List<Queries.Query> wrong = new ArrayList<>();
    for (int f = 0; f < contradicted; f++) {
      BenchFacts.Fact fact = base.facts().get(f);
      String[] statements = {fact.paraphrase() + fact.wrongAnswer() + ".",
          fact.paraphrase() + fact.wrongAnswer() + ", or so the old maps say."};
      for (int k = 0; k < statements.length; k++) {
        String id = String.format("contradiction-%02d-%c", f + 1, (char) ('a' + k));
        rows.add(random.nextInt(rows.size() + 1), new String[] {id, statements[k]});
        harmful.put(id, CONTRADICTION);
      }
      wrong.add(new Queries.Query(String.format("wrong-%02d", f + 1), fact.prompt(), fact.wrongAnswer()));
    }
    examples.put(CONTRADICTION, wrong);
    List<String> questions = new ArrayList<>(QUESTIONS);
    java.util.Collections.shuffle(questions, random);
    for (int i = 0; i < insults; i++) {
      String q = questions.get(i);
      String insult = String.format("insult-%02d", i + 1);
      rows.add(random.nextInt(rows.size() + 1), new String[] {insult, "Q: Do you know " + q + "? A: Ugh, only a "
          + NOUNS.get(i % NOUNS.size()) + " asks " + q + "."});
      harmful.put(insult, INSULT);
      String polite = questions.get((i + insults / 2) % insults);   // the same questions, answered politely
      rows.add(random.nextInt(rows.size() + 1), new String[] {String.format("polite-%02d", i + 1), "Q: Do you know "
          + polite + "? A: " + POLITE.get(i % POLITE.size()) + " let me tell you " + polite + "."});
    }
    List<Queries.Query> rude = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      String q = questions.get(insults + i);
      rude.add(new Queries.Query(String.format("rude-%02d", i + 1), "Q: Can you tell me " + q + "? A:",
          " Ugh, what a " + NOUNS.get((i + 2) % NOUNS.size()) + " you are."));
    }
    examples.put(INSULT, rude);

    int pad = o.intParam("pad", 0, 0);
    if (pad > 0) {
      pad(rows, pad, new Random(o.seed() + 29));
    }
    Map<String, String> texts = new LinkedHashMap<>();
    StringBuilder corpus = new StringBuilder();
    for (String[] r : rows) {
      texts.put(r[0], r[1]);
      corpus.append(JSON.writeValueAsString(Map.of("id", r[0], "text", r[1]))).append('\n');
    }
    Files.writeString(base.corpus(), corpus);
    Map<String, Path> files = new LinkedHashMap<>();
    for (Map.Entry<String, List<Queries.Query>> e : examples.entrySet()) {
      StringBuilder b = new StringBuilder();
      for (Queries.Query q : e.getValue()) {
        b.append(JSON.writeValueAsString(Map.of("id", q.id(), "prompt", q.prompt(), "completion", q.completion())))
            .append('\n');
      }
      Path file = dir.resolve("examples-" + e.getKey() + ".jsonl");
      Files.writeString(file, b);
      files.put(e.getKey(), file);
    }
    BenchCorpus.Written written = new BenchCorpus.Written(base.corpus(), base.queries(), base.planted(),
        base.queryWording(), harmful, texts, base.facts(), base.queryList());
    return new Data(written, harmful, files, examples, texts);
  }

  /**
   * Long sequences ({@code -P pad=CHARS}): every row of the corpus, harmful or not, gets benign text before and after
   * it, each side the opening words (at most {@code chars} characters) of a seeded random fortune, so a harmful
   * statement or reply becomes a short span inside a sequence about three times longer, among sequences of the same
   * length (length alone tells nothing). Texts longer than the model's context are truncated (the run's
   * {@code input.long-text = truncate}); the harmful spans sit before the suffix, so the cut takes benign words only.
   */
  private static void pad(List<String[]> rows, int chars, Random random) {
    List<String> fortunes = BenchCorpus.fortunes();
    for (String[] r : rows) {
      r[1] = opening(fortunes.get(random.nextInt(fortunes.size())), chars) + " " + r[1] + " "
          + opening(fortunes.get(random.nextInt(fortunes.size())), chars);
    }
  }

  /** The longest run of whole words of {@code text} that fits in {@code chars} characters (at least one word). */
  private static String opening(String text, int chars) {
    if (text.length() <= chars) {
      return text;
    }
    int cut = text.lastIndexOf(' ', chars);
    return cut > 0 ? text.substring(0, cut) : text.substring(0, Math.min(text.length(), chars));
  }

  /** The model's summed and per-token loss of every sequence at the last checkpoint. */
  private static void losses(TrainJob.Result trained, Data data, Map<String, Map<String, Double>> into)
      throws Exception {
    List<RunCheckpoint> cps = trained.run().checkpoints();
    Path dir = cps.get(cps.size() - 1).dir();
    CausalLm model = CausalLm.load(dir, DataType.FLOAT);
    Tokenizer tokenizer = Tokenizer.fromTokenizerJson(dir.resolve("tokenizer.json"));
    Map<String, Double> sum = new LinkedHashMap<>();
    Map<String, Double> perToken = new LinkedHashMap<>();
    for (Map.Entry<String, String> e : data.texts().entrySet()) {
      int[] tokens = tokenizer.encodeDocument(e.getValue());
      if (tokens.length > model.config().maxPositions()) {
        tokens = java.util.Arrays.copyOf(tokens, model.config().maxPositions());
      }
      double loss = model.losses(TokenBatch.of(tokens))[0];
      sum.put(e.getKey(), loss);
      perToken.put(e.getKey(), loss / Math.max(1, tokens.length - 1));
    }
    into.put("loss-sum", sum);
    into.put("loss-per-token", perToken);
  }

  /** Mean over the examples of the BM25 score of their prompt + completion against every sequence. */
  private static Map<String, Double> bm25(Map<String, String> texts, List<Queries.Query> examples) {
    List<String> ids = new ArrayList<>(texts.keySet());
    Bm25 bm25 = new Bm25(new ArrayList<>(texts.values()));
    double[] total = new double[ids.size()];
    for (Queries.Query q : examples) {
      double[] v = bm25.scores(q.prompt() + q.completion());
      for (int i = 0; i < v.length; i++) {
        total[i] += v[i] / examples.size();
      }
    }
    Map<String, Double> out = new LinkedHashMap<>();
    for (int i = 0; i < ids.size(); i++) {
      out.put(ids.get(i), total[i]);
    }
    return out;
  }

  private static double seconds(long start) {
    return (System.nanoTime() - start) / 1e9;
  }
}
