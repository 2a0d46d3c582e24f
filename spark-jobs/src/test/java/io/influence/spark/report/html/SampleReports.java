package io.influence.spark.report.html;

import io.influence.spark.report.Report;
import io.influence.spark.report.Provenance;
import io.influence.spark.report.QueryResult;
import io.influence.spark.report.RankedSequence;
import io.influence.spark.report.SelfInfluenceSection;
import io.influence.spark.report.FlaggedSequence;
import io.influence.spark.report.TokenContribution;
import io.influence.spark.report.CheckpointInfo;
import io.influence.spark.report.PlayerValue;
import io.influence.spark.report.ShapleyResult;
import io.influence.spark.report.ShapleyRun;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Reports used by the tests: a realistic one and one full of hostile text. */
final class SampleReports {

  static final String SCRIPT = "<script>alert(1)</script>";
  static final String IMG = "\"><img src=x onerror=alert(1)>";
  static final String PWN = "<script>document.title='PWNED'</script>";
  static final String STYLE_BREAK = "</style><style>body{display:none}</style>";
  static final String LITERAL_ENTITY = "&amp; &lt;b&gt; &#39;";
  static final String QUOTE_ID = "it's \"quoted\" id";
  static final String CONTROLS = "nul\u0000bell\u0007del\u007fc1\u0085end";
  static final String LONE_SURROGATES = "lone\uD800high and \uDC00low";
  static final String UNICODE = "naïve café 東京 🙂 Ω\tTab\r\nCRLF";

  private SampleReports() {}

  static Provenance provenance(Map<String, String> extraSettings) {
    Map<String, String> settings = new LinkedHashMap<>();
    settings.put("score.method", "ekfac");
    settings.put("score.damping", "0.001");
    settings.put("extract.projection", "random-gaussian 64x64 seed 7");
    settings.put("corpus.path", "/data/corpus & co/<train>.arrow");
    settings.putAll(extraSettings);
    return new Provenance(
        "0.1.0-SNAPSHOT",
        "EK-FAC, TracIn",
        Map.of("ekfac", "relative: λ = 0.1000 × mean eigenvalue → λ = 0.001000 to 0.02000 (8 blocks)"),
        "random projection 64×64 per layer",
        List.of(
            new CheckpointInfo(1000, 6e-4, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
            new CheckpointInfo(2000, 3e-4, "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"),
            new CheckpointInfo(3000, 1.5e-4, "fd61a03af4f77d870fc21e05e7e80678095c92d808cfb3b5c279ee04c74aca13")),
        "2026-11-24T10:00:00Z",
        settings);
  }

  static Map<String, Double> layers(Random rnd, int n, double scale) {
    Map<String, Double> m = new LinkedHashMap<>();
    for (int l = 0; l < n; l++) {
      m.put("h." + l + ".mlp.c_fc", scale * rnd.nextGaussian());
      m.put("h." + l + ".attn.c_attn", 0.5 * scale * rnd.nextGaussian());
    }
    return m;
  }

  static Map<String, Double> checkpoints(double score) {
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("step 1000", 0.5 * score);
    m.put("step 2000", 0.3 * score);
    m.put("step 3000", 0.2 * score);
    return m;
  }

  static List<TokenContribution> tokens(Random rnd, String text) {
    List<TokenContribution> tokens = new ArrayList<>();
    for (String piece : text.split("(?=[ \n])")) {
      tokens.add(new TokenContribution(piece, Math.round(rnd.nextGaussian() * 1e6) * 1e-9));
    }
    return tokens;
  }

  static final String[] CORPUS = {
    "The capital of France is Paris. It lies on the Seine\nand is known for the Eiffel Tower.",
    "Paris, France: population 2.1 million (2023). Museums include the Louvre and Orsay.",
    "def add(a, b):\n    return a + b\n\nprint(add(2, 3))",
    "Berlin is the capital of Germany; Madrid is the capital of Spain.",
    "Q: What is the capital of Italy?\nA: Rome.",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.",
  };

  /** Two queries with top-3/bottom-3, per-layer and per-checkpoint breakdowns, self-influence. */
  static Report realistic() {
    Random rnd = new Random(42);
    List<QueryResult> queries = new ArrayList<>();
    String[][] qa = {
      {"q-capital", "Question: What is the capital of France?\nAnswer:", " Paris"},
      {"q-code", "# add two numbers\ndef add(a, b):", "\n    return a + b"},
    };
    for (String[] q : qa) {
      List<RankedSequence> top = new ArrayList<>();
      List<RankedSequence> bottom = new ArrayList<>();
      double[] topScores = {0.0123456, 3.2e-5, 2.5e-5};
      double[] bottomScores = {-0.5, -4.4e-6, -1.0e-6};
      for (int i = 0; i < 3; i++) {
        top.add(new RankedSequence(i + 1, q[0] + "/train-" + (100 + i), topScores[i],
            tokens(rnd, CORPUS[i]), layers(rnd, 6, topScores[i] / 4), checkpoints(topScores[i])));
        bottom.add(new RankedSequence(i + 1, q[0] + "/train-" + (900 + i), bottomScores[i],
            tokens(rnd, CORPUS[3 + i]), layers(rnd, 6, bottomScores[i] / 4), checkpoints(bottomScores[i])));
      }
      double[] sample = new double[400];
      for (int i = 0; i < sample.length; i++) {
        sample[i] = 2e-4 * rnd.nextGaussian() + 1e-5;
      }
      queries.add(new QueryResult(q[0], q[1], q[2], "EK-FAC (λ = 1e-3)", top, bottom, sample,
          layers(rnd, 6, 1e-3)));
    }
    List<FlaggedSequence> flagged = new ArrayList<>();
    double[] selfScores = {812.5, 640.25, 410.0, 95.5, 80.125};
    for (int i = 0; i < selfScores.length; i++) {
      flagged.add(new FlaggedSequence("train-" + (7000 + i), selfScores[i], 1 - 0.0005 * (i + 1), i < 3,
          CORPUS[i % CORPUS.length] + "\n" + "repeated line ".repeat(i + 1)));
    }
    double[] hist = new double[1000];
    for (int i = 0; i < hist.length; i++) {
      hist[i] = Math.exp(2.5 + 0.8 * rnd.nextGaussian());
    }
    return new Report("Influence report: GPT-2 small on the tiny corpus", provenance(Map.of()), queries,
        new SelfInfluenceSection(flagged, hist, 0.003));
  }

  /** The methods of {@link #sideBySide}, in column order (keys a, b, c). */
  static final List<String> SIDE_BY_SIDE_METHODS = List.of("tracin", "ekfac", "representer");

  /**
   * Two queries answered by three methods whose kept lists overlap: per method, top-3 and bottom-2 ids into
   * {@link #CORPUS} ({@code train-4} is in the first method's bottom-2 and the third's top-3). A training id has the
   * same tokens in every method and query, with contributions that differ per method and query and sum to the row's
   * score.
   */
  static Report sideBySide() {
    Random rnd = new Random(11);
    int[][] topIds = {{0, 1, 2}, {1, 0, 3}, {2, 4, 0}};
    int[][] bottomIds = {{5, 4}, {5, 2}, {1, 5}};
    List<QueryResult> queries = new ArrayList<>();
    for (String q : List.of("q-capital", "q-code")) {
      for (int m = 0; m < SIDE_BY_SIDE_METHODS.size(); m++) {
        List<RankedSequence> top = new ArrayList<>();
        List<RankedSequence> bottom = new ArrayList<>();
        for (int r = 0; r < topIds[m].length; r++) {
          top.add(ranked(rnd, r + 1, topIds[m][r], 1));
        }
        for (int r = 0; r < bottomIds[m].length; r++) {
          bottom.add(ranked(rnd, r + 1, bottomIds[m][r], -1));
        }
        String method = SIDE_BY_SIDE_METHODS.get(m);
        queries.add(new QueryResult(q, "prompt of " + q, " completion", method, top, bottom,
            new double[] {-1, 0, 1}, Map.of(), m == 0 ? "scores" : "scores-" + method));
      }
    }
    return new Report("Three methods side by side", provenance(Map.of()), queries, null);
  }

  /** A kept row of {@link #CORPUS}[{@code i}]: random contributions leaning to {@code sign}, their sum the score. */
  private static RankedSequence ranked(Random rnd, int rank, int i, double sign) {
    List<TokenContribution> tokens = new ArrayList<>();
    double score = 0;
    for (String piece : CORPUS[i].split("(?=[ \n])")) {
      double c = Math.round((rnd.nextGaussian() + 0.3 * sign) * 1e6) * 1e-9;
      tokens.add(new TokenContribution(piece, c));
      score += c;
    }
    return new RankedSequence(rank, "train-" + i, score, tokens, Map.of(), checkpoints(score));
  }

  static final List<String> HOSTILE =
      List.of(SCRIPT, IMG, PWN, STYLE_BREAK, LITERAL_ENTITY, QUOTE_ID, CONTROLS, LONE_SURROGATES, UNICODE);

  /** Hostile text in every field that carries text; token texts are the hostile strings themselves. */
  static Report hostile(String title) {
    String all = String.join(" | ", HOSTILE);
    List<TokenContribution> tokens = new ArrayList<>();
    double sign = 1;
    for (String h : HOSTILE) {
      tokens.add(new TokenContribution(h, sign * 0.25 * (tokens.size() + 1)));
      tokens.add(new TokenContribution("\n", 0));
      sign = -sign;
    }
    Map<String, Double> perLayer = new LinkedHashMap<>();
    for (String h : HOSTILE) {
      perLayer.put(h, -0.5 + perLayer.size() * 0.125);
    }
    RankedSequence top = new RankedSequence(1, PWN + QUOTE_ID, 0.0123456, tokens, perLayer, perLayer);
    RankedSequence top2 = new RankedSequence(2, "safe-id-2", 3.2e-5,
        List.of(new TokenContribution(IMG, 1e-6), new TokenContribution(" plain", -2e-6)), Map.of(), Map.of());
    RankedSequence bottom = new RankedSequence(1, IMG, -0.5,
        List.of(new TokenContribution(STYLE_BREAK, -1), new TokenContribution(LITERAL_ENTITY, 0.5)),
        Map.of(), Map.of());
    QueryResult q = new QueryResult(QUOTE_ID + SCRIPT, all, PWN, IMG, List.of(top, top2), List.of(bottom),
        new double[] {-0.5, 0.0123456, 3.2e-5, 0, 0.001}, perLayer);
    Map<String, String> settings = new LinkedHashMap<>();
    for (int i = 0; i < HOSTILE.size(); i++) {
      settings.put("hostile." + i + HOSTILE.get(i), HOSTILE.get(i));
    }
    Provenance p = new Provenance(SCRIPT, IMG, null, PWN, List.of(new CheckpointInfo(1, 0.1, STYLE_BREAK)),
        LONE_SURROGATES, settings);
    SelfInfluenceSection self = new SelfInfluenceSection(
        List.of(new FlaggedSequence(PWN, 9.5, 0.999, true, all), new FlaggedSequence(QUOTE_ID, 1.5, 0.5, false, IMG)),
        new double[] {1.5, 9.5, 2, 3}, 0.01);
    return new Report(title, p, List.of(q), self, List.of(hostileShapley(q.queryId(), all)));
  }

  /** Data Shapley values of the hostile query: hostile player ids, texts, folder, group column and utility. */
  static ShapleyResult hostileShapley(String queryId, String all) {
    ShapleyRun run = new ShapleyRun(STYLE_BREAK, "tmc-shapley", PWN, 11, 500, 3500, 2, 0.01, false,
        java.util.OptionalDouble.of(0.25), 7, 3, IMG, "checkpoint-6",
        new ShapleyRun.StandardErrors(1, 0.0625, 0.00125));
    List<PlayerValue> top = List.of(new PlayerValue(1, PWN + QUOTE_ID, 0.0123456, 0.00125, 8, all),
        new PlayerValue(2, "safe-player-2", 3.2e-5, 1e-6, 1, ""));
    List<PlayerValue> bottom = List.of(new PlayerValue(1, IMG, -0.5, 0.0625, 2, STYLE_BREAK));
    return new ShapleyResult(queryId, all, PWN, run, top, bottom, new double[] {-0.5, 3.2e-5, 0.0123456});
  }

  static int tokenCount(Report report) {
    int n = 0;
    for (QueryResult q : report.queries()) {
      for (RankedSequence s : q.top()) {
        n += s.tokens().size();
      }
      for (RankedSequence s : q.bottom()) {
        n += s.tokens().size();
      }
    }
    return n;
  }
}
