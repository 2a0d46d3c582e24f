/**
 * Representer points (Yeh et al. 2018, "Representer Point Selection for Explaining Deep Neural Networks") for a
 * causal language model's output head.
 *
 * <p>The head {@code W} ({@code [V, d]}, no bias) is fine-tuned, from the checkpoint's own head and with the rest of
 * the model frozen, to the stationary point of {@code J(W) = (1/n) Σ_t CE(W f_t, y_t) + λ‖W‖²} over the corpus's
 * {@code n} predicted tokens ({@link HeadFit}). At that point {@code ∇J = 0} gives the representer theorem
 * {@code W* = Σ_t α_t f_tᵀ} with {@code α_t = −(1/(2λn)) (softmax(W* f_t) − e_{y_t})}, so for any features {@code f}
 * the fitted logits decompose exactly into training tokens' contributions {@code α_t (f_t · f)}
 * ({@link RepresenterHead}). A training sequence's representer score for a query sums those contributions over the
 * sequence's tokens and the query's target logits ({@link RepresenterScorer}). No Spark here.
 */
package io.influence.core.representer;
