/**
 * {@code influence quickstart}: an embedded example (Debian fortunes with planted invented facts,
 * {@link io.influence.spark.quickstart.Example}) trained, run through the whole pipeline and reported, with the
 * planted facts' recall printed ({@link io.influence.spark.quickstart.Quickstart}).
 */
package io.influence.spark.quickstart;
