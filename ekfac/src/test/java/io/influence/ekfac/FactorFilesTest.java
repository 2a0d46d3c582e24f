package io.influence.ekfac;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.CheckpointFormatException;
import io.influence.checkpoints.SafetensorsWriter;
import io.influence.core.grad.TokenFactors;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class FactorFilesTest {

  @TempDir
  Path tmp;

  private static LayerFactors fitted(String layer, int dIn, int dOut, long seed, boolean corrected) {
    List<TokenFactors> xs = Fixtures.examples(layer, 12, dIn, dOut, 5, DataType.FLOAT, seed);
    CovarianceAccumulator acc = new CovarianceAccumulator(layer, dIn, dOut);
    xs.forEach(acc::add);
    LayerFactors f = LayerFactors.fromCovariances(acc.finish());
    if (!corrected) {
      return f;
    }
    EigenvalueCorrection corr = new EigenvalueCorrection(f);
    xs.forEach(corr::add);
    return f.withCorrection(corr.finish(), corr.examples());
  }

  private static void assertSame(LayerFactors expected, LayerFactors got) {
    assertEquals(expected.layer(), got.layer());
    assertEquals(expected.dIn(), got.dIn());
    assertEquals(expected.dOut(), got.dOut());
    assertArrayEquals(expected.qA(), got.qA());
    assertArrayEquals(expected.eigA(), got.eigA());
    assertArrayEquals(expected.qS(), got.qS());
    assertArrayEquals(expected.eigS(), got.eigS());
    assertArrayEquals(expected.lambda(), got.lambda());
    assertEquals(expected.tokensPerExample(), got.tokensPerExample());
    assertEquals(expected.tokens(), got.tokens());
    assertEquals(expected.examples(), got.examples());
    assertEquals(expected.correctionExamples(), got.correctionExamples());
  }

  @Test
  void writeRead_correctedFactorsAndDamping_roundTripExactly() throws Exception {
    LayerFactors f = fitted("transformer.h.0.mlp.c_fc", 6, 4, 3, true);
    Path file = tmp.resolve("f.safetensors");
    FactorFiles.write(file, f, Damping.relativeToMean(0.1));
    LayerFactors back = FactorFiles.read(file);
    assertSame(f, back);
    assertEquals(Damping.relativeToMean(0.1), FactorFiles.readDamping(file));
    // The preconditioner built from the loaded factors gives bit-identical results.
    INDArray v = Nd4j.rand(DataType.FLOAT, 4, 6);
    INDArray a = KroneckerPreconditioners.ekfac(Map.of(f.layer(), f), Damping.DEFAULT).apply(Map.of(f.layer(), v)).get(f.layer());
    INDArray b = KroneckerPreconditioners.ekfac(Map.of(f.layer(), back), Damping.DEFAULT).apply(Map.of(f.layer(), v)).get(f.layer());
    assertEquals(a, b);
  }

  @Test
  void writeRead_uncorrectedFactorsWithoutDamping_roundTripExactly() throws Exception {
    LayerFactors f = fitted("h.1.attn", 3, 5, 4, false);
    Path file = tmp.resolve("g.safetensors");
    FactorFiles.write(file, f, null);
    LayerFactors back = FactorFiles.read(file);
    assertSame(f, back);
    assertNull(back.lambda());
    assertNull(FactorFiles.readDamping(file));
  }

  @Test
  void writeAllReadAll_twoLayers_keyedByStoredLayerName() throws Exception {
    Map<String, LayerFactors> m = new LinkedHashMap<>();
    m.put("h.0/attn:c_attn", fitted("h.0/attn:c_attn", 4, 3, 1, true));
    m.put("h.0.mlp", fitted("h.0.mlp", 3, 4, 2, true));
    Path dir = tmp.resolve("checkpoint-100/factors");
    FactorFiles.writeAll(dir, m, Damping.absolute(1e-3));
    Map<String, LayerFactors> back = FactorFiles.readAll(dir);
    assertEquals(m.keySet(), back.keySet());
    for (String k : m.keySet()) {
      assertSame(m.get(k), back.get(k));
    }
  }

  @Test
  void read_wrongTensorShape_throwsNamingFileAndTensor() throws Exception {
    LayerFactors f = fitted("h.0.mlp", 3, 2, 1, true);
    Path file = tmp.resolve("bad.safetensors");
    new SafetensorsWriter()
        .metadata("format", FactorFiles.FORMAT).metadata("layer", "h.0.mlp")
        .metadata("d_in", "3").metadata("d_out", "2").metadata("tokens", "10").metadata("examples", "2")
        .metadata("correction_examples", "2").metadata("tokens_per_example", "5.0")
        .put("Q_A", new long[] {3, 3}, f.qA())
        .put("eigenvalues_A", new long[] {3}, f.eigA())
        .put("Q_S", new long[] {2, 2}, f.qS())
        .put("eigenvalues_S", new long[] {2}, f.eigS())
        .put("lambda", new long[] {3, 2}, f.lambda()) // transposed shape
        .write(file);
    CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> FactorFiles.read(file));
    assertEquals(file, e.file());
    assertEquals("lambda", e.tensor());
    assertTrue(e.getMessage().contains("bad.safetensors") && e.getMessage().contains("HINT"), e.getMessage());
  }

  @Test
  void read_notAFactorFile_throwsNamingFile() throws Exception {
    Path file = tmp.resolve("model.safetensors");
    new SafetensorsWriter().put("wte.weight", new long[] {2, 2}, new float[] {1, 2, 3, 4}).write(file);
    CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> FactorFiles.read(file));
    assertEquals(file, e.file());
  }
}
