package io.influence.spark.report.html;

import io.influence.spark.report.Report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.awt.image.BufferedImage;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Opens rendered reports in a real browser (headless Chromium, offline, fresh profile) and checks
 * the DOM it builds: hostile corpus text must stay text, the title must stay ours, and every
 * token must be one highlighted span. Chromium is required: without it these tests fail with an
 * install hint rather than skip.
 */
class ReportBrowserTest {

  private static final long BROWSER_TIMEOUT_S = 60;
  /** Per-channel tolerance when looking for the legend's colours in a screenshot. */
  private static final int COLOUR_TOLERANCE = 6;
  private static final int MIN_COLOUR_PIXELS = 100;

  @TempDir Path dir;

  static Path chromium() {
    String configured = System.getenv("CHROMIUM");
    if (configured != null && !configured.isBlank()) {
      if (!Files.isExecutable(Path.of(configured))) {
        fail("CHROMIUM=" + configured + " is not an executable file. "
            + "HINT: point CHROMIUM at a Chromium/Chrome binary, or unset it and apt-get install -y chromium.");
      }
      return Path.of(configured);
    }
    for (String entry : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(File.pathSeparator)) {
      for (String name : List.of("chromium", "chromium-browser", "google-chrome")) {
        Path candidate = Path.of(entry, name);
        if (Files.isExecutable(candidate)) {
          return candidate;
        }
      }
    }
    return fail("Chromium is not installed, and the report's browser test needs it. "
        + "HINT: apt-get install -y chromium (or set CHROMIUM=/path/to/chrome).");
  }

  /** Runs a command with the given timeout; returns its stdout. Kills what it started. */
  private String run(List<String> command, String what) throws Exception {
    Path stdout = Files.createTempFile(dir, what, ".out");
    Path stderr = Files.createTempFile(dir, what, ".err");
    Process p = new ProcessBuilder(command).directory(dir.toFile())
        .redirectOutput(stdout.toFile()).redirectError(stderr.toFile()).start();
    Set<ProcessHandle> started = new HashSet<>();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(BROWSER_TIMEOUT_S);
    try {
      while (!p.waitFor(100, TimeUnit.MILLISECONDS)) {
        p.descendants().forEach(started::add);
        if (System.nanoTime() > deadline) {
          fail(what + " did not finish within " + BROWSER_TIMEOUT_S + " s: " + command + "\nstderr:\n"
              + Files.readString(stderr));
        }
      }
      assertEquals(0, p.exitValue(), () -> what + " failed: " + command + "\nstderr:\n" + readQuietly(stderr));
      return Files.readString(stdout, StandardCharsets.UTF_8);
    } finally {
      p.descendants().forEach(started::add);
      started.forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
    }
  }

  private static String readQuietly(Path file) {
    try {
      return Files.readString(file);
    } catch (Exception e) {
      return "(unreadable: " + e + ")";
    }
  }

  private String dumpDom(Report report) throws Exception {
    return dumpDom(ReportWriter.render(report));
  }

  private String dumpDom(String document) throws Exception {
    Path html = dir.resolve("report-" + System.nanoTime() + ".html");
    Files.writeString(html, document, StandardCharsets.UTF_8);
    Path profile = Files.createDirectory(dir.resolve("profile-" + System.nanoTime()));
    List<String> command = new ArrayList<>(List.of(chromium().toString(), "--headless", "--no-sandbox",
        "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--user-data-dir=" + profile, "--dump-dom", html.toUri().toString()));
    return run(command, "chromium");
  }

  private static int count(String haystack, String needle) {
    int n = 0;
    for (int i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + 1)) {
      n++;
    }
    return n;
  }

  @Test
  void dumpDom_hostileReport_titleIntactAndHostileTextInert() throws Exception {
    Report report = SampleReports.hostile("Influence report & checks");
    String dom = dumpDom(report);
    assertTrue(dom.contains("<title>Influence report &amp; checks</title>"), dom);
    assertFalse(dom.contains("PWNED</title>"));
    String lower = dom.toLowerCase(Locale.ROOT);
    assertEquals(0, count(lower, "<script"));
    assertEquals(0, count(lower, "<img"));
    assertTrue(dom.contains("&lt;script&gt;document.title='PWNED'&lt;/script&gt;"));
    assertTrue(dom.contains("\"&gt;&lt;img src=x onerror=alert(1)&gt;"));
    // the top-k sequences with their ids and scores, the bottom one, and the legend
    assertTrue(dom.contains("&lt;script&gt;document.title='PWNED'&lt;/script&gt;it's \"quoted\" id</code>"));
    assertTrue(dom.contains(">safe-id-2</code>"));
    assertTrue(dom.contains(">score +0.01235</span>"));
    assertTrue(dom.contains(">score +3.200e-05</span>"));
    assertTrue(dom.contains(">score -0.5000</span>"));
    assertTrue(dom.contains("id=\"legend\""));
    assertTrue(dom.contains("<em>lowers</em> the query loss"));
    assertEquals(SampleReports.tokenCount(report), ReportRenderTest.tokenSpans(dom));
    // the Data Shapley values of the same query: players as text, value ± standard error
    assertEquals(1, count(dom, "<details class=\"method shapley\" id=\"q1-m2\">"));
    assertEquals(3, count(dom, "<tr class=\"player\">"));
    // one query section with both methods side by side; the top-1 and bottom-1 ids, kept by both, are marked in both
    assertEquals(1, count(dom, "<section class=\"query\""));
    assertEquals(4, count(dom, "<span class=\"agree\" title="));
    assertEquals(1, count(dom, "<table class=\"grid side top\""));
    assertTrue(dom.contains("<span class=\"count\">1</span> query · <span class=\"count\">2</span> methods"));
    assertTrue(dom.contains("<span class=\"score neg\">-0.5000</span> ± 0.06250"));
    // the token part's method picker: one radio for the one gradient method, its hostile label text
    assertEquals(1, count(lower, "<input type=\"radio\""));
    assertTrue(dom.contains("<label for=\"q1-ka\"><b>a</b> \"&gt;&lt;img src=x onerror=alert(1)&gt;</label>"));
  }

  @Test
  void dumpDom_scriptInjectedPastTheEscaper_blockedByContentSecurityPolicy() throws Exception {
    String injection = "<script>document.title='PWNED'</script>";
    String html = ReportWriter.render(SampleReports.realistic());
    String injected = html.replace("<body>\n", "<body>\n" + injection);
    assertFalse(dumpDom(injected).contains("<title>PWNED</title>"));
    // control: the same injection without the policy does run, so the check above can fail
    String withoutPolicy = injected.replaceFirst("<meta http-equiv=\"Content-Security-Policy\"[^>]*>", "");
    assertTrue(dumpDom(withoutPolicy).contains("<title>PWNED</title>"));
  }

  @Test
  void dumpDom_realisticReport_everyTokenHighlightedAndSectionsBuilt() throws Exception {
    Report report = SampleReports.realistic();
    String dom = dumpDom(report);
    assertTrue(dom.contains("<title>" + report.title() + "</title>"));
    assertEquals(SampleReports.tokenCount(report), ReportRenderTest.tokenSpans(dom));
    assertEquals(12, count(dom, "<article class=\"seq\">"));
    assertEquals(3, count(dom, "<tr class=\"flagged\">"));
    for (String id : List.of("legend", "provenance", "q1", "q2", "self-influence")) {
      assertTrue(dom.contains(" id=\"" + id + "\""), id);
    }
    assertTrue(dom.contains("Content-Security-Policy"));
  }

  @Test
  void screenshot_realisticReport_pngShowsBothColourScales() throws Exception {
    Path script = Path.of("..", "bin", "report-screenshot").toAbsolutePath().normalize();
    assertTrue(Files.isRegularFile(script), () -> "missing " + script);
    // kept under target/ so a person can look at it after the build
    Path out = Path.of("target", "report-sample").toAbsolutePath();
    Path html = out.resolve("realistic.html");
    Path png = out.resolve("realistic.png");
    ReportWriter.write(SampleReports.realistic(), html);
    Files.deleteIfExists(png);
    chromium(); // fail with the install hint first
    run(List.of("bash", script.toString(), html.toString(), png.toString(), "1280x2000"), "report-screenshot");
    BufferedImage image = ImageIO.read(png.toFile());
    assertEquals(1280, image.getWidth());
    assertEquals(2000, image.getHeight());
    assertTrue(pixelsNear(image, 33, 102, 172) >= MIN_COLOUR_PIXELS, "positive colour missing");
    assertTrue(pixelsNear(image, 178, 24, 43) >= MIN_COLOUR_PIXELS, "negative colour missing");
  }

  /**
   * The method picker works in a real browser without a script: one sequence kept by two methods, every token
   * positive for the first and negative for the second. With the first radio checked (as rendered) the tokens are
   * blue and not red; with the second checked they are red and not blue. The page is the report's own style sheet and
   * token part, opened, so nothing else on the page has these colours.
   */
  @Test
  void screenshot_twoMethodsOneSequence_checkedRadioPicksWhichMethodShadesTheTokens() throws Exception {
    List<io.influence.spark.report.TokenContribution> up = new ArrayList<>();
    List<io.influence.spark.report.TokenContribution> down = new ArrayList<>();
    for (int i = 0; i < 150; i++) {
      up.add(new io.influence.spark.report.TokenContribution(" word" + i, 1));
      down.add(new io.influence.spark.report.TokenContribution(" word" + i, -1));
    }
    List<io.influence.spark.report.QueryResult> results = new ArrayList<>();
    for (var tokens : List.of(up, down)) {
      String method = tokens == up ? "tracin" : "ekfac";
      results.add(new io.influence.spark.report.QueryResult("q", "p", "c", method, List.of(
          new io.influence.spark.report.RankedSequence(1, "train-1", tokens.size() * (tokens == up ? 1.0 : -1.0),
              tokens, java.util.Map.of(), java.util.Map.of())), List.of(), new double[] {0}, java.util.Map.of()));
    }
    String html = ReportWriter.render(new Report("two methods", SampleReports.provenance(java.util.Map.of()), results,
        null));
    String style = html.substring(html.indexOf("<style>"), html.indexOf("</style>") + "</style>".length());
    String part = html.substring(html.indexOf("<details class=\"tokens-part\""));
    part = part.substring(0, part.indexOf("</details>") + "</details>".length())
        .replace("<details class=\"tokens-part\"", "<details open class=\"tokens-part\"")
        .replaceAll("<div class=\"seq-head\">.*?</div>", "");   // its scores are coloured text
    String second = part.replace(" class=\"ka\" checked>", " class=\"ka\">")
        .replace(" class=\"kb\">", " class=\"kb\" checked>").replace("q1-", "q2-");   // its own radio group
    assertFalse(second.replace("q2-", "q1-").equals(part), "the second radio could not be checked");
    // the two pages side by side, left as rendered (first method checked), right with the second checked; the
    // sequence's left border is coloured by its list: dropped so that only tokens carry the two colours
    String page = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">" + style
        + "<style>.seq{border:0!important}body{margin:0;padding:0;max-width:none;display:grid;"
        + "grid-template-columns:400px 400px}</style></head><body><div>" + part + "</div><div>" + second
        + "</div></body></html>\n";
    chromium(); // fail with the install hint first
    Path script = Path.of("..", "bin", "report-screenshot").toAbsolutePath().normalize();
    Path out = Files.createDirectories(Path.of("target", "report-sample").toAbsolutePath());   // to look at later
    Path file = out.resolve("pick.html");
    Path png = out.resolve("pick.png");
    Files.writeString(file, page, StandardCharsets.UTF_8);
    run(List.of("bash", script.toString(), file.toString(), png.toString(), "800x600"), "report-screenshot");
    BufferedImage image = ImageIO.read(png.toFile());
    BufferedImage left = image.getSubimage(0, 0, 400, image.getHeight());
    BufferedImage right = image.getSubimage(400, 0, 400, image.getHeight());
    int[] first = {pixelsNear(left, 33, 102, 172), pixelsNear(left, 178, 24, 43)};
    int[] picked = {pixelsNear(right, 33, 102, 172), pixelsNear(right, 178, 24, 43)};
    assertTrue(first[0] >= 20 * MIN_COLOUR_PIXELS && first[1] == 0, "first method checked: blue " + first[0]
        + ", red " + first[1]);
    assertTrue(picked[1] >= 20 * MIN_COLOUR_PIXELS && picked[0] == 0, "second method checked: blue " + picked[0]
        + ", red " + picked[1]);
  }

  private static int pixelsNear(BufferedImage image, int r, int g, int b) {
    int n = 0;
    for (int y = 0; y < image.getHeight(); y++) {
      for (int x = 0; x < image.getWidth(); x++) {
        int rgb = image.getRGB(x, y);
        if (Math.abs(((rgb >> 16) & 0xFF) - r) <= COLOUR_TOLERANCE && Math.abs(((rgb >> 8) & 0xFF) - g) <= COLOUR_TOLERANCE
            && Math.abs((rgb & 0xFF) - b) <= COLOUR_TOLERANCE) {
          n++;
        }
      }
    }
    return n;
  }
}
