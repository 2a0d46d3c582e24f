/**
 * The influence methods as a closed set of types ({@link io.influence.spark.method.InfluenceMethod}: TracIn, EK-FAC,
 * iterative iHVP with CG or LiSSA). Each says what it needs (factors, a corpus pass) and how it weights checkpoints and
 * preconditions gradients; the stages ask, never compare names. {@link io.influence.spark.method.QueryGradients}
 * computes the query gradients they start from.
 */
package io.influence.spark.method;
