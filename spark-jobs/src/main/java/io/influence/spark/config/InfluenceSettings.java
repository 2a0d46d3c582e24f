package io.influence.spark.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueFactory;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Every setting of the engine, typed and validated once ({@link Settings#load} builds it from the layered HOCON):
 * one record per block of {@code conf/reference.conf}. A stage is a function of {@code (SparkSession,
 * InfluenceSettings)} and reads no key by name; every choice that is a word in the file is an enum here.
 *
 * <p>The resolved tree is kept beside the records for one purpose: the settings a stage ran with are saved next
 * to its output and compared on a rerun ({@link #section}); it is never read key by key.
 */
public final class InfluenceSettings {

  private final Config config;
  private final SparkSettings spark;
  private final InputSettings input;
  private final ExtractSettings extract;
  private final EkfacSettings ekfac;
  private final IhvpSettings ihvp;
  private final ScoreSettings score;
  private final SelfInfluenceSettings selfInfluence;
  private final FlagSettings flag;
  private final ReportSettings report;
  private final TrainSettings train;
  private final QuickstartSettings quickstart;
  private final OutputSettings output;
  private final ShapleySettings shapley;
  private final CandidatesSettings candidates;
  private final RepresenterSettings representer;

  private InfluenceSettings(Config c) {
    this.config = c;
    try {
      this.spark = SparkSettings.from(c);
      this.input = InputSettings.from(c);
      this.extract = ExtractSettings.from(c);
      this.ekfac = EkfacSettings.from(c);
      this.ihvp = IhvpSettings.from(c);
      this.score = ScoreSettings.from(c);
      this.selfInfluence = SelfInfluenceSettings.from(c);
      this.flag = FlagSettings.from(c);
      this.report = ReportSettings.from(c);
      this.train = TrainSettings.from(c);
      this.quickstart = QuickstartSettings.from(c);
      this.output = OutputSettings.from(c);
      this.shapley = ShapleySettings.from(c);
      this.candidates = CandidatesSettings.from(c);
      this.representer = RepresenterSettings.from(c);
    } catch (ConfigException e) {
      throw new IllegalArgumentException("bad setting: " + e.getMessage() + ". HINT: see conf/reference.conf", e);
    }
  }

  /** The typed tree of a resolved {@code influence} settings tree (see {@link Settings#load}); checks every block. */
  public static InfluenceSettings from(Config influence) {
    return new InfluenceSettings(Objects.requireNonNull(influence, "settings"));
  }

  /** These settings with {@code key} (relative to {@code influence}) set to {@code value}, checked again. */
  public InfluenceSettings with(String key, Object value) {
    return new InfluenceSettings(config.withValue(key, ConfigValueFactory.fromAnyRef(value)));
  }

  /**
   * The resolved values of the named blocks (e.g. {@code "input", "extract"}): what a stage's output depends on,
   * saved beside it and compared on a rerun.
   */
  public Config section(String... blocks) {
    Config out = ConfigFactory.empty();
    for (String b : blocks) {
      out = out.withFallback(canonical(config.withOnlyPath(b)));
    }
    return out;
  }

  /** Paths that name a user's file or folder: compared as absolute paths. */
  private static final List<String> PATHS = List.of("input.corpus", "input.queries", "input.run", "flag.examples",
      "output.dir");

  /**
   * The same settings written one way: numbers and booleans given as strings (as command-line flags give them)
   * become numbers and booleans; local paths become absolute and normalised (a relative and an absolute path to the
   * same file are the same input; the same relative path from another directory is not); URIs stay as written.
   */
  private static Config canonical(Config c) {
    Config reference = Settings.reference();
    Config out = c;
    for (Map.Entry<String, ConfigValue> e : c.entrySet()) {
      String key = e.getKey();
      if (!reference.hasPathOrNull(key) || c.getIsNull(key)) {
        continue;
      }
      Object value = null;
      if (PATHS.contains(key)) {
        String p = c.getString(key);
        value = p.matches("[A-Za-z][A-Za-z0-9+.-]*:.*") ? p : Path.of(p).toAbsolutePath().normalize().toString();
      } else if (!reference.getIsNull(key)) {
        value = switch (reference.getValue(key).valueType()) {
          case NUMBER -> c.getNumber(key).doubleValue() == Math.rint(c.getNumber(key).doubleValue())
              && Math.abs(c.getNumber(key).doubleValue()) < 1e15 ? (Object) c.getNumber(key).longValue()
              : (Object) c.getNumber(key).doubleValue();
          case BOOLEAN -> c.getBoolean(key);
          default -> null;
        };
      }
      if (value != null) {
        out = out.withValue(key, ConfigValueFactory.fromAnyRef(value));
      }
    }
    return out;
  }

  public SparkSettings spark() {
    return spark;
  }

  public InputSettings input() {
    return input;
  }

  public ExtractSettings extract() {
    return extract;
  }

  public EkfacSettings ekfac() {
    return ekfac;
  }

  public IhvpSettings ihvp() {
    return ihvp;
  }

  public ShapleySettings shapley() {
    return shapley;
  }

  public ScoreSettings score() {
    return score;
  }

  public SelfInfluenceSettings selfInfluence() {
    return selfInfluence;
  }

  public FlagSettings flag() {
    return flag;
  }

  public ReportSettings report() {
    return report;
  }

  public TrainSettings train() {
    return train;
  }

  public QuickstartSettings quickstart() {
    return quickstart;
  }

  public OutputSettings output() {
    return output;
  }

  public CandidatesSettings candidates() {
    return candidates;
  }

  public RepresenterSettings representer() {
    return representer;
  }
}
