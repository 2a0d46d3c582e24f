package io.influence.spark.report.html;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class FmtTest {

  @Test
  void num_midRange_fourSignificantDigitsPlain() {
    assertEquals("0.01235", Fmt.num(0.0123456));
    assertEquals("-0.5000", Fmt.num(-0.5));
    assertEquals("812.5", Fmt.num(812.5));
    assertEquals("1.000", Fmt.num(1));
    assertEquals("100.0", Fmt.num(100));
    assertEquals("9999", Fmt.num(9999.0));
    assertEquals("0.001000", Fmt.num(0.00099996));
  }

  @Test
  void num_smallOrLarge_scientificWithFourSignificantDigits() {
    assertEquals("3.200e-05", Fmt.num(3.2e-5));
    assertEquals("-4.400e-06", Fmt.num(-4.4e-6));
    assertEquals("1.235e+04", Fmt.num(12345.0));
    assertEquals("1.000e+04", Fmt.num(9999.96));
    assertEquals("9.999e-04", Fmt.num(0.00099990));
  }

  @Test
  void num_zero_plainZero() {
    assertEquals("0", Fmt.num(0.0));
    assertEquals("0", Fmt.num(-0.0));
  }

  @Test
  void signed_positive_hasPlus() {
    assertEquals("+0.01235", Fmt.signed(0.0123456));
    assertEquals("-1.000e-06", Fmt.signed(-1e-6));
  }

  @Test
  void exact_anyDouble_parsesBackToSameValue() {
    for (double x : new double[] {0.1 + 0.2, 1e-300, -3.2e-5, 812.5, Math.PI}) {
      assertEquals(x, Double.parseDouble(Fmt.exact(x)));
    }
  }

  @Test
  void fixed_negativeZero_printedWithoutSign() {
    assertEquals("0.00", Fmt.fixed(-0.0001, 2));
    assertEquals("12.35", Fmt.fixed(12.345678, 2));
  }
}
