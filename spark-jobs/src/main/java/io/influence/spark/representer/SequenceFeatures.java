package io.influence.spark.representer;

import java.io.Serializable;

/**
 * One training sequence's predicted tokens as the output head sees them: features {@code [tokens, dim]} row-major
 * (float64) and the token each position predicts.
 */
record SequenceFeatures(String id, double[] features, int[] targets) implements Serializable {}
