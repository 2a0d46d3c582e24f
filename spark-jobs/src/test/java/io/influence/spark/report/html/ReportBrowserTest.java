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
    assertEquals(SampleReports.tokenCount(report), count(dom, "<span class=\"tok "));
    // the Data Shapley values of the same query: players as text, value ± standard error
    assertEquals(1, count(dom, "<details class=\"method shapley\" id=\"q1-m2\">"));
    assertEquals(3, count(dom, "<tr class=\"player\">"));
    // one query section with both methods side by side; the top-1 and bottom-1 ids, kept by both, are marked in both
    assertEquals(1, count(dom, "<section class=\"query\""));
    assertEquals(4, count(dom, "<span class=\"agree\" title="));
    assertEquals(1, count(dom, "<table class=\"grid side top\""));
    assertTrue(dom.contains("<span class=\"count\">1</span> query · <span class=\"count\">2</span> methods"));
    assertTrue(dom.contains("<span class=\"score neg\">-0.5000</span> ± 0.06250"));
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
    assertEquals(SampleReports.tokenCount(report), count(dom, "<span class=\"tok "));
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
