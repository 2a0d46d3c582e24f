package io.influence.core.tracin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.score.LayerLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** TracInCP's batched GEMM path against a brute-force loop over checkpoints, pairs, layers and entries. */
class TracInCpTest {

  // one place for tolerances (relative to the largest |score|)
  private static final double FLOAT64_TOLERANCE = 1e-11;
  private static final double FLOAT32_TOLERANCE = 1e-5;

  private static final List<String> LAYERS = List.of("h.0.attn.c_attn", "h.0.mlp.c_fc");
  private static final long[][] SHAPES = {{4, 7}, {6, 3}};
  private static final double[] LEARNING_RATES = {3e-4, 1e-4, 2.5e-5};

  private static LayerLayout layout() {
    Map<String, long[]> s = new LinkedHashMap<>();
    for (int l = 0; l < LAYERS.size(); l++) {
      s.put(LAYERS.get(l), SHAPES[l]);
    }
    return LayerLayout.of(LAYERS, s);
  }

  private static ExampleGradient example(Random r, String id, DataType dt) {
    Map<String, INDArray> m = new LinkedHashMap<>();
    for (int l = 0; l < LAYERS.size(); l++) {
      double[] v = new double[(int) (SHAPES[l][0] * SHAPES[l][1])];
      for (int i = 0; i < v.length; i++) {
        v[i] = r.nextGaussian();
      }
      m.put(LAYERS.get(l), Nd4j.create(v, SHAPES[l], 'c').castTo(dt));
    }
    return new ExampleGradient(id, m);
  }

  private static List<CheckpointGradients> run(long seed, int nQuery, int nTrain, DataType dt) {
    Random r = new Random(seed);
    List<CheckpointGradients> out = new ArrayList<>();
    for (int c = 0; c < LEARNING_RATES.length; c++) {
      List<ExampleGradient> q = new ArrayList<>();
      List<ExampleGradient> t = new ArrayList<>();
      for (int i = 0; i < nQuery; i++) {
        q.add(example(r, "query-" + i, dt));
      }
      for (int i = 0; i < nTrain; i++) {
        t.add(example(r, "train-" + i, dt));
      }
      out.add(new CheckpointGradients("step-" + (c + 1) * 100, LEARNING_RATES[c], q, t));
    }
    return out;
  }

  /** Σ_i η_i Σ_l Σ_jk Q_l[j,k] G_l[j,k] by plain loops. */
  private static double bruteForce(List<CheckpointGradients> run, int checkpoint, int q, int t) {
    CheckpointGradients c = run.get(checkpoint);
    double s = 0;
    for (String layer : LAYERS) {
      INDArray a = c.queries().get(q).layers().get(layer);
      INDArray b = c.train().get(t).layers().get(layer);
      for (int j = 0; j < a.rows(); j++) {
        for (int k = 0; k < a.columns(); k++) {
          s += a.getDouble(j, k) * b.getDouble(j, k);
        }
      }
    }
    return c.learningRate() * s;
  }

  @Test
  void scores_batchedGemm_equalsBruteForceDoubleLoop() {
    List<CheckpointGradients> run = run(1, 4, 13, DataType.DOUBLE);
    TracInScores s = TracInCp.scores(layout(), CheckpointSource.of(run));
    assertEquals(List.of("step-100", "step-200", "step-300"), s.checkpoints());
    double scale = 0;
    for (double[] row : s.total()) {
      for (double v : row) {
        scale = Math.max(scale, Math.abs(v));
      }
    }
    for (int q = 0; q < 4; q++) {
      for (int t = 0; t < 13; t++) {
        double total = 0;
        for (int c = 0; c < run.size(); c++) {
          double truth = bruteForce(run, c, q, t);
          assertEquals(truth, s.perCheckpoint()[c][q][t], FLOAT64_TOLERANCE * scale, "checkpoint " + c);
          total += truth;
        }
        assertEquals(total, s.total()[q][t], FLOAT64_TOLERANCE * scale, "query " + q + " train " + t);
      }
    }
  }

  @Test
  void scores_float32Gradients_equalFloat64WithinRounding() {
    List<CheckpointGradients> r64 = run(2, 3, 9, DataType.DOUBLE);
    List<CheckpointGradients> r32 = run(2, 3, 9, DataType.FLOAT);
    TracInScores a = TracInCp.scores(layout(), CheckpointSource.of(r64));
    TracInScores b = TracInCp.scores(layout(), CheckpointSource.of(r32));
    double scale = 0;
    for (double[] row : a.total()) {
      for (double v : row) {
        scale = Math.max(scale, Math.abs(v));
      }
    }
    for (int q = 0; q < 3; q++) {
      for (int t = 0; t < 9; t++) {
        assertEquals(a.total()[q][t], b.total()[q][t], FLOAT32_TOLERANCE * scale);
      }
    }
  }

  @Test
  void selfInfluence_equalsScoreOfExampleWithItself() {
    List<CheckpointGradients> run = run(3, 0, 11, DataType.DOUBLE);
    List<CheckpointGradients> asQueries = new ArrayList<>();
    for (CheckpointGradients c : run) {
      asQueries.add(new CheckpointGradients(c.checkpoint(), c.learningRate(), c.train(), c.train()));
    }
    SelfInfluence self = TracInCp.selfInfluence(layout(), CheckpointSource.of(run));
    TracInScores pairs = TracInCp.scores(layout(), CheckpointSource.of(asQueries));
    for (int t = 0; t < 11; t++) {
      double scale = Math.abs(pairs.total()[t][t]);
      assertEquals(pairs.total()[t][t], self.total()[t], FLOAT64_TOLERANCE * scale, "example " + t);
      double sum = 0;
      for (int c = 0; c < run.size(); c++) {
        assertEquals(bruteForce(asQueries, c, t, t), self.perCheckpoint()[c][t], FLOAT64_TOLERANCE * scale);
        sum += self.perCheckpoint()[c][t];
      }
      assertEquals(self.total()[t], sum, FLOAT64_TOLERANCE * scale);
      assertTrue(self.total()[t] > 0);
    }
    assertEquals(run.get(0).train().stream().map(ExampleGradient::id).toList(), self.ids());
  }

  @Test
  void scores_nanGradient_throwsNamingExampleLayerAndCheckpoint() {
    List<CheckpointGradients> run = run(4, 2, 5, DataType.FLOAT);
    CheckpointGradients c = run.get(1);
    List<ExampleGradient> train = new ArrayList<>(c.train());
    Map<String, INDArray> bad = new LinkedHashMap<>(train.get(3).layers());
    INDArray w = bad.get("h.0.mlp.c_fc").dup();
    w.putScalar(0, 2, Float.POSITIVE_INFINITY);
    bad.put("h.0.mlp.c_fc", w);
    train.set(3, new ExampleGradient("train-3", bad));
    run.set(1, new CheckpointGradients(c.checkpoint(), c.learningRate(), c.queries(), train));
    for (Runnable call : List.<Runnable>of(() -> TracInCp.scores(layout(), CheckpointSource.of(run)),
        () -> TracInCp.selfInfluence(layout(), CheckpointSource.of(run)))) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::run);
      assertTrue(e.getMessage().contains("train-3") && e.getMessage().contains("h.0.mlp.c_fc")
          && e.getMessage().contains("step-200"), e.getMessage());
    }
  }

  @Test
  void scores_idsDifferAcrossCheckpoints_throws() {
    List<CheckpointGradients> run = run(5, 2, 4, DataType.DOUBLE);
    CheckpointGradients c = run.get(2);
    List<ExampleGradient> train = new ArrayList<>(c.train());
    train.set(0, new ExampleGradient("other", train.get(0).layers()));
    run.set(2, new CheckpointGradients(c.checkpoint(), c.learningRate(), c.queries(), train));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TracInCp.scores(layout(), CheckpointSource.of(run)));
    assertTrue(e.getMessage().contains("step-300"), e.getMessage());
  }

  @Test
  void checkpointGradients_nonPositiveLearningRate_throws() {
    assertThrows(IllegalArgumentException.class, () -> new CheckpointGradients("step-1", 0.0, List.of(), List.of()));
  }
}
