package io.influence.core.representer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.Gpt2Config;
import io.influence.checkpoints.LlamaConfig;
import io.influence.core.model.CausalLm;
import io.influence.core.model.TokenBatch;
import io.influence.core.train.Initialization;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Representer points on a tiny random GPT-2 in float64: the final hidden states reproduce the model's logits, the
 * fitted head satisfies the representer theorem on held-out tokens, and the factorised scores equal a brute-force
 * double loop.
 */
class RepresenterTest {

  private static final int VOCAB = 40;
  private static final double LAMBDA = 1e-2;
  private static CausalLm model;
  private static TokenFeatures train;
  private static TokenFeatures heldOut;
  private static HeadFit.Result fit;

  @BeforeAll
  static void fitOnce() {
    model = Initialization.gpt2(new Gpt2Config(VOCAB, 16, 16, 1, 2, 1e-5, "gelu_new"), 7, DataType.DOUBLE);
    Random random = new Random(11);
    train = TokenFeatures.of(model, sequences(random, 30), null, 8);
    heldOut = TokenFeatures.of(model, sequences(random, 4), null, 8);
    fit = HeadFit.fit(train, model.headWeight(), LAMBDA, 1e-12, 50);
  }

  private static List<int[]> sequences(Random random, int count) {
    List<int[]> out = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      int[] s = new int[4 + random.nextInt(10)];
      for (int t = 0; t < s.length; t++) {
        s[t] = random.nextInt(VOCAB);
      }
      out.add(s);
    }
    return out;
  }

  @Test
  void finalHidden_timesHead_equalsLogits_gpt2AndLlama() {
    CausalLm llama = Initialization.llama(new LlamaConfig(31, 16, 48, 2, 4, 2, 1e-6, 10000, false, 16), 3,
        DataType.DOUBLE);
    for (CausalLm m : List.of(model, llama)) {
      TokenBatch batch = TokenBatch.of(new int[] {1, 5, 7, 2}, new int[] {3, 4});
      INDArray h = m.finalHidden(batch);
      INDArray logits = m.logits(batch);
      INDArray w = m.headWeight();
      double worst = 0;
      for (int b = 0; b < batch.size(); b++) {
        for (int t = 0; t < batch.length(b); t++) {
          INDArray z = w.mmul(h.get(org.nd4j.linalg.indexing.NDArrayIndex.point(b),
              org.nd4j.linalg.indexing.NDArrayIndex.point(t), org.nd4j.linalg.indexing.NDArrayIndex.all())
              .reshape(w.columns(), 1));
          for (int v = 0; v < w.rows(); v++) {
            worst = Math.max(worst, Math.abs(z.getDouble(v, 0) - logits.getDouble(b, t, v)));
          }
        }
      }
      assertTrue(worst < 1e-12, m.config().modelType() + ": head · finalHidden differs from logits by " + worst);
    }
  }

  @Test
  void fit_heldOutTokens_decompositionReproducesFittedLogits() {
    assertTrue(fit.converged(), "Newton-CG stopped at relative residual " + fit.relativeResidual() + " after "
        + fit.iterations() + " steps");
    INDArray decomposed = fit.head().decompose(train, heldOut);
    double worst = 0;
    for (int j = 0; j < heldOut.size(); j++) {
      double[] z = fit.head().logits(heldOut.row(j));   // W* f by a plain loop: the independent side
      double norm = 0;
      double diff = 0;
      for (int v = 0; v < VOCAB; v++) {
        norm += z[v] * z[v];
        double d = z[v] - decomposed.getDouble(j, v);
        diff += d * d;
      }
      worst = Math.max(worst, Math.sqrt(diff / norm));
    }
    System.out.printf("representer theorem on %d held-out tokens: worst relative error %.2e (fit: %d Newton steps, "
        + "%d CG products, residual %.2e)%n", heldOut.size(), worst, fit.iterations(), fit.cgIterations(),
        fit.relativeResidual());
    assertTrue(worst < 1e-11, "W* f vs Σ α_t (f_t·f): worst relative error " + worst);
  }

  @Test
  void fit_fromAnotherStart_reachesTheSameHead() {
    INDArray zero = model.headWeight().muli(0);
    HeadFit.Result other = HeadFit.fit(train, zero, LAMBDA, 1e-12, 50);
    double diff = other.head().matrix().sub(fit.head().matrix()).norm2Number().doubleValue();
    double norm = fit.head().matrix().norm2Number().doubleValue();
    assertTrue(diff / norm < 1e-10, "two starts of a strictly convex problem differ by " + diff / norm);
    assertTrue(fit.objective() < HeadFit.fit(train, model.headWeight(), LAMBDA, 1e300, 0).objective(),
        "the fit did not lower the objective of the checkpoint's head");
  }

  @Test
  void scores_factorised_equalBruteForceDoubleLoop() {
    Random random = new Random(5);
    List<int[]> queries = sequences(random, 3);
    List<int[]> masks = new ArrayList<>();
    for (int[] q : queries) {
      int[] m = new int[q.length];
      for (int t = q.length / 2; t < q.length; t++) {
        m[t] = 1;   // the completion: second half
      }
      masks.add(m);
    }
    TokenFeatures qf = TokenFeatures.of(model, queries, masks, 2);
    RepresenterHead head = fit.head();
    int sequences = train.sequence()[train.size() - 1] + 1;
    double[][] fast = new RepresenterScorer(head, qf, queries.size()).scores(train, sequences);

    double[][] slow = new double[sequences][queries.size()];
    for (int s = 0; s < train.size(); s++) {
      double[] fs = train.row(s);
      double[] z = head.logits(fs);
      double max = Double.NEGATIVE_INFINITY;
      for (double x : z) {
        max = Math.max(max, x);
      }
      double sum = 0;
      for (double x : z) {
        sum += Math.exp(x - max);
      }
      for (int t = 0; t < qf.size(); t++) {
        int y = qf.targets()[t];
        double alpha = -(Math.exp(z[y] - max) / sum - (train.targets()[s] == y ? 1 : 0)) / (2 * LAMBDA * train.size());
        double dot = 0;
        double[] ft = qf.row(t);
        for (int c = 0; c < fs.length; c++) {
          dot += fs[c] * ft[c];
        }
        slow[train.sequence()[s]][qf.sequence()[t]] += alpha * dot;
      }
    }
    for (int z = 0; z < sequences; z++) {
      for (int q = 0; q < queries.size(); q++) {
        assertEquals(slow[z][q], fast[z][q], 1e-12 * (1 + Math.abs(slow[z][q])), "sequence " + z + ", query " + q);
      }
    }
    // the scores of all sequences add up to the fitted logits of the query's targets (the theorem, summed)
    for (int q = 0; q < queries.size(); q++) {
      double logits = 0;
      for (int t = 0; t < qf.size(); t++) {
        if (qf.sequence()[t] == q) {
          logits += head.logits(qf.row(t))[qf.targets()[t]];
        }
      }
      double total = 0;
      for (int z = 0; z < sequences; z++) {
        total += fast[z][q];
      }
      assertEquals(logits, total, 1e-10 * (1 + Math.abs(logits)), "query " + q);
    }
  }
}
