package io.influence.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.core.grad.TokenFactors;
import io.influence.core.score.LayerLayout;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** KroneckerProjection.forLayers (a store's projections from its layout) and projectTokens, against create/project. */
class KroneckerProjectionTest {

  private static final double TOLERANCE = 1e-12;

  /** Full shapes {dOut, dIn} of two made-up layers. */
  private static final Map<String, int[]> FULL = Map.of("l.0", new int[] {6, 9}, "l.1", new int[] {4, 7});

  private static LayerLayout stored(long[] l0, long[] l1) {
    Map<String, long[]> shapes = new LinkedHashMap<>();
    shapes.put("l.1", l1);
    shapes.put("l.0", l0);
    return LayerLayout.of(List.of("l.1", "l.0"), shapes);
  }

  private static void assertSameValues(INDArray want, INDArray got, String what) {
    assertEquals(List.of(want.shape()[0], want.shape()[1]), List.of(got.shape()[0], got.shape()[1]), what);
    double diff = want.castTo(DataType.DOUBLE).sub(got.castTo(DataType.DOUBLE)).amaxNumber().doubleValue();
    assertTrue(diff <= TOLERANCE, what + ": differs by " + diff);
  }

  @Test
  void forLayers_projectedStore_equalsCreatePerLayerInStoredOrder() {
    LayerLayout stored = stored(new long[] {3, 2}, new long[] {5, 4});  // [kOut, kIn]
    Map<String, KroneckerProjection> p = KroneckerProjection.forLayers(stored, FULL::get, 42L, DataType.FLOAT);
    assertEquals(List.of("l.1", "l.0"), List.copyOf(p.keySet()));
    KroneckerProjection want = KroneckerProjection.create("l.0", 9, 6, 2, 3, 42L, DataType.FLOAT);
    assertSameValues(want.pIn(), p.get("l.0").pIn(), "P_in");
    assertSameValues(want.pOut(), p.get("l.0").pOut(), "P_out");
    assertEquals(4, p.get("l.1").kIn());
    assertEquals(5, p.get("l.1").kOut());
    assertEquals(DataType.FLOAT, p.get("l.1").dataType());
  }

  @Test
  void forLayers_fullStore_isEmptyWhenShapesMatchAndFailsWhenNot() {
    assertTrue(KroneckerProjection.forLayers(stored(new long[] {6, 9}, new long[] {4, 7}), FULL::get, null,
        DataType.FLOAT).isEmpty());
    var e = assertThrows(IllegalArgumentException.class, () -> KroneckerProjection.forLayers(
        stored(new long[] {6, 9}, new long[] {4, 6}), FULL::get, null, DataType.FLOAT));
    assertTrue(e.getMessage().contains("l.1") && e.getMessage().contains("HINT"), e.getMessage());
  }

  @Test
  void projectTokens_gTransposeA_equalsProjectAndWithDataTypeKeepsValues() {
    KroneckerProjection p = KroneckerProjection.create("l.0", 9, 6, 2, 3, 7L, DataType.FLOAT)
        .withDataType(DataType.DOUBLE);
    Nd4j.getRandom().setSeed(3);
    INDArray a = Nd4j.rand(DataType.DOUBLE, 5, 9).subi(0.5);
    INDArray g = Nd4j.rand(DataType.DOUBLE, 5, 6).subi(0.5);
    TokenFactors f = new TokenFactors("l.0", a, g);
    TokenFactors pf = p.projectTokens(f);
    assertEquals(2, pf.dIn());
    assertEquals(3, pf.dOut());
    assertSameValues(p.project(f), pf.g().transpose().mmul(pf.a()), "gᵀ a of the projected factors");
    INDArray floatPIn = KroneckerProjection.create("l.0", 9, 6, 2, 3, 7L, DataType.FLOAT).pIn();
    assertSameValues(floatPIn, p.pIn(), "float32 values cast, not redrawn");
    assertThrows(IllegalArgumentException.class, () -> p.projectTokens(new TokenFactors("l.0", a.getColumns(0, 1),
        g)));
  }
}
