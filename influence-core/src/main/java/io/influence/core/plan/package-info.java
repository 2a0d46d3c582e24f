/**
 * What a pipeline run will cost, before it runs: GEMM FLOPs, stored bytes and task memory counted from the model's
 * shapes ({@link io.influence.core.plan.CostModel}), and rates measured on this machine in a few seconds ({@link
 * io.influence.core.plan.Calibration}). No Spark here; the {@code influence plan} command multiplies them by the
 * corpus.
 */
package io.influence.core.plan;
