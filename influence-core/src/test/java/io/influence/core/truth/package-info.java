/**
 * Exact oracles for tests and the bench: float64 dense solves ({@link io.influence.core.truth.DenseMath}), logistic
 * regressions retrained to their optimum, and the digits data. Test fixtures, not product code: they live in
 * influence-core's test sources and are published alone (with their resources) as influence-core's test jar,
 * which ekfac's tests and the bench module depend on; the application jar does not contain them.
 */
package io.influence.core.truth;
