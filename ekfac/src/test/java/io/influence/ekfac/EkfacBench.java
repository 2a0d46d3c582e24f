package io.influence.ekfac;

import io.influence.core.grad.TokenFactors;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Timing of the per-example kernels at GPT-2-small-block scale (not a test; run by hand):
 * {@code java -cp <test classpath> io.influence.ekfac.EkfacBench [dIn dOut tokens examples]}.
 * Prints milliseconds per example and GFLOP/s of the GEMMs counted.
 */
public final class EkfacBench {

  private EkfacBench() {}

  public static void main(String[] args) {
    int dIn = args.length > 0 ? Integer.parseInt(args[0]) : 257;
    int dOut = args.length > 1 ? Integer.parseInt(args[1]) : 1024;
    int t = args.length > 2 ? Integer.parseInt(args[2]) : 128;
    int n = args.length > 3 ? Integer.parseInt(args[3]) : 40;
    List<TokenFactors> xs = Fixtures.examples("bench", n, dIn, dOut, 1, DataType.FLOAT, 1);
    xs = xs.stream().map(f -> new TokenFactors("bench", Nd4j.randn(DataType.FLOAT, t, dIn), Nd4j.randn(DataType.FLOAT, t, dOut))).toList();
    for (int rep = 0; rep < 3; rep++) {
      CovarianceAccumulator cov = new CovarianceAccumulator("bench", dIn, dOut);
      long t0 = System.nanoTime();
      xs.forEach(cov::add);
      Covariances c = cov.finish();
      long t1 = System.nanoTime();
      LayerFactors f = LayerFactors.fromCovariances(c);
      long t2 = System.nanoTime();
      EigenvalueCorrection corr = new EigenvalueCorrection(f);
      xs.forEach(corr::add);
      LayerFactors ef = f.withCorrection(corr.finish(), n);
      long t3 = System.nanoTime();
      var pre = KroneckerPreconditioners.ekfac(Map.of("bench", ef), Damping.DEFAULT);
      INDArray v = Nd4j.randn(DataType.FLOAT, dOut, dIn);
      pre.apply(Map.of("bench", v));
      long t4 = System.nanoTime();
      for (int i = 0; i < 10; i++) {
        pre.apply(Map.of("bench", v));
      }
      long t5 = System.nanoTime();
      double covFlops = 2.0 * t * ((double) dIn * dIn + (double) dOut * dOut);
      double corrFlops = 2.0 * Math.min(
          (double) t * dOut * dIn + (double) dOut * dOut * dIn + (double) dOut * dIn * dIn,
          (double) t * dOut * dOut + (double) t * dIn * dIn + (double) t * dOut * dIn); // the order EigenvalueCorrection picks
      System.out.printf("dIn %d dOut %d T %d: covariance %.2f ms/example (%.1f GFLOP/s f64), eigen %.0f ms, "
              + "correction %.2f ms/example (%.1f GFLOP/s f32), precondition %.2f ms/call%n",
          dIn, dOut, t, (t1 - t0) / 1e6 / n, covFlops * n / (t1 - t0), (t2 - t1) / 1e6,
          (t3 - t2) / 1e6 / n, corrFlops * n / (t3 - t2), (t5 - t4) / 1e6 / 10);
    }
  }
}
