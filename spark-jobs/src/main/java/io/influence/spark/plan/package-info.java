/**
 * {@code influence plan} and {@code run --dry-run}: the cost of a run before it runs ({@link
 * io.influence.spark.plan.Planner}), from a corpus scan, the run's last checkpoint and a short calibration.
 */
package io.influence.spark.plan;
