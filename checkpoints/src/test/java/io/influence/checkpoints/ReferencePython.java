package io.influence.checkpoints;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs our small checker script (src/test/python/safetensors_check.py) with /usr/bin/python3 and
 * the independent PyTorch reference (shared/reference/torch_gpt2.py beside the repository).
 * Missing python3, numpy, torch or the reference FAIL the calling test with a message saying
 * what to install; these checks are never skipped.
 */
public final class ReferencePython {
    private ReferencePython() {
    }

    static Path fixture(String relative) {
        try {
            var url = ReferencePython.class.getResource("/fixtures/" + relative);
            if (url == null) {
                throw new AssertionError("test fixture fixtures/" + relative + " is missing from the test classpath");
            }
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new AssertionError(e);
        }
    }

    /** The repository root: the nearest ancestor of the working directory whose pom.xml lists modules. */
    public static Path repoRoot() throws IOException {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path pom = p.resolve("pom.xml");
            if (Files.isRegularFile(pom) && Files.readString(pom).contains("<module>checkpoints</module>")) {
                return p;
            }
        }
        throw new AssertionError("cannot find the repository root (a pom.xml listing <module>checkpoints</module>) above "
                + Path.of("").toAbsolutePath());
    }

    /** shared/reference/torch_gpt2.py: -Dinfluence.shared=DIR, else the first shared/ beside the repo or above it. */
    public static Path referenceScript() throws IOException {
        String override = System.getProperty("influence.shared", System.getenv("INFLUENCE_SHARED"));
        if (override != null) {
            Path p = Path.of(override, "reference", "torch_gpt2.py");
            if (Files.isRegularFile(p)) {
                return p;
            }
            throw new AssertionError("influence.shared=" + override + " has no reference/torch_gpt2.py");
        }
        Path root = repoRoot();
        for (Path p = root.getParent(); p != null; p = p.getParent()) {
            Path s = p.resolve("shared/reference/torch_gpt2.py");
            if (Files.isRegularFile(s)) {
                return s;
            }
        }
        throw new AssertionError("the PyTorch reference shared/reference/torch_gpt2.py was not found beside the repository "
                + root + " (looked in ../shared and above); HINT: check out shared/ next to the repository or pass "
                + "-Dinfluence.shared=DIR.");
    }

    static Path checkerScript() throws IOException {
        Path p = repoRoot().resolve("checkpoints/src/test/python/safetensors_check.py");
        if (!Files.isRegularFile(p)) {
            throw new AssertionError("missing " + p);
        }
        return p;
    }

    /** Runs the checker with the given arguments; fails the test (never skips) if python3/numpy/torch are missing. */
    static void run(String... args) throws IOException, InterruptedException {
        Path python = Path.of("/usr/bin/python3");
        String exe = Files.isExecutable(python) ? python.toString() : "python3";
        List<String> cmd = new ArrayList<>();
        cmd.add(exe);
        cmd.add(checkerScript().toString());
        cmd.addAll(List.of(args));
        Process proc;
        try {
            proc = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new AssertionError("cannot start " + exe + " for the cross-implementation check: " + e
                    + "; HINT: install python3 with numpy and torch (Debian: apt-get install python3-numpy python3-torch).", e);
        }
        byte[] output = proc.getInputStream().readAllBytes();
        if (!proc.waitFor(120, TimeUnit.SECONDS)) {
            proc.destroyForcibly();
            throw new AssertionError("python checker timed out: " + cmd);
        }
        String text = new String(output, StandardCharsets.UTF_8);
        if (proc.exitValue() != 0) {
            String hint = text.contains("No module named") ? " HINT: the cross-implementation tests need numpy and torch for "
                    + exe + " (Debian: apt-get install python3-numpy python3-torch)." : "";
            throw new AssertionError("python checker failed (exit " + proc.exitValue() + "): " + cmd + "\n" + text + hint);
        }
    }

    static JsonNode readJson(Path file) throws IOException {
        // Python's json writes Infinity/NaN for non-finite floats (e.g. a float16 rounding that overflows)
        return new com.fasterxml.jackson.databind.ObjectMapper(com.fasterxml.jackson.core.JsonFactory.builder()
                .enable(com.fasterxml.jackson.core.json.JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build()).readTree(file.toFile());
    }

    static double[] values(JsonNode tensor) {
        JsonNode v = tensor.get("values");
        double[] out = new double[v.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = v.get(i).doubleValue();
        }
        return out;
    }

    static long[] shape(JsonNode tensor) {
        JsonNode v = tensor.get("shape");
        long[] out = new long[v.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = v.get(i).longValue();
        }
        return out;
    }
}
