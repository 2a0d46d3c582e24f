package io.influence.core.truth;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A small real data set for retraining truths: the 8×8 handwritten digits whose label is 1 or 7 (361 rows, in
 * their original order; {@code digits/README.md} beside this class's resources gives the source and licence).
 * Each row is the 64 pixel counts scaled by 1/16 plus a trailing 1 for the bias; the label is 1 for a seven, 0
 * for a one.
 *
 * @param x rows of 65 features (last = 1)
 * @param y 0/1 labels
 */
public record Digits(double[][] x, double[] y) {

  public static final String RESOURCE = "/io/influence/core/truth/digits/digits-1-vs-7.csv";
  public static final int FEATURES = 65;

  /** Reads the bundled CSV; throws IllegalStateException naming the row when it is malformed. */
  public static Digits oneVsSeven() {
    InputStream in = Digits.class.getResourceAsStream(RESOURCE);
    if (in == null) {
      throw new IllegalStateException(RESOURCE + " is not on the classpath; HINT: it ships in influence-core's test"
          + " fixtures jar (influence-core-*-tests.jar)");
    }
    List<double[]> xs = new ArrayList<>();
    List<Double> ys = new ArrayList<>();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII))) {
      String header = r.readLine();
      if (header == null || !header.startsWith("p0,")) {
        throw new IllegalStateException(RESOURCE + ": expected a header p0,...,p63,digit, got " + header);
      }
      int row = 1;
      for (String line = r.readLine(); line != null; line = r.readLine(), row++) {
        String[] f = line.split(",");
        if (f.length != 65) {
          throw new IllegalStateException(RESOURCE + " row " + row + ": " + f.length + " fields, expected 65");
        }
        double[] x = new double[FEATURES];
        for (int j = 0; j < 64; j++) {
          x[j] = Integer.parseInt(f[j].trim()) / 16.0;
        }
        x[64] = 1;
        int digit = Integer.parseInt(f[64].trim());
        if (digit != 1 && digit != 7) {
          throw new IllegalStateException(RESOURCE + " row " + row + ": digit " + digit + ", expected 1 or 7");
        }
        xs.add(x);
        ys.add(digit == 7 ? 1.0 : 0.0);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + RESOURCE, e);
    }
    return new Digits(xs.toArray(new double[0][]), ys.stream().mapToDouble(Double::doubleValue).toArray());
  }

  public int size() {
    return x.length;
  }
}
