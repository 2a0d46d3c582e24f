/**
 * GPT-2 on ND4J with per-example gradients.
 *
 * <pre>{@code
 * Gpt2Model model = Gpt2Model.load(checkpointDir, DataType.FLOAT);     // or fromTensors(config, tensors, dtype)
 * TokenBatch batch = new TokenBatch(tokens, lossMask);                  // unequal lengths; mask null = all t >= 1
 * double[] losses = model.losses(batch);                                // Σ_t −log p(x_t | x_<t) per example
 *
 * BatchGradients g = model.gradients(batch, GradientRequest.allParameters()
 *     .withTokenFactors(true).withFullPerExample(true)
 *     .withProjections(model.projections(model.linearLayers(), 32, 32, seed)));
 * g.parameterGradients();          // HF name -> gradient of Σ_i L(z_i), HF shape
 * g.tokenFactors().get(i);         // layer -> TokenFactors(a [T_i, dIn+1], g [T_i, dOut])
 * g.fullPerExample().get(i);       // layer -> G = gᵀa [dOut, dIn+1] (reused buffer: consume or dup)
 * g.projectedPerExample().get(i);  // layer -> P_out G P_inᵀ [kOut, kIn]
 * }</pre>
 *
 * <p>A gradient store's projections are rebuilt from its layout and seed with
 * {@code KroneckerProjection.forLayers(storedLayout, model::linearShape, seed, dtype)} (empty for a full store);
 * {@code projection.projectTokens(factors)} maps token factors into the projected space.
 *
 * <p>Layer names are {@code h.{i}.attn.c_attn}, {@code h.{i}.attn.c_proj}, {@code h.{i}.mlp.c_fc},
 * {@code h.{i}.mlp.c_proj}. Hugging Face's Conv1D weight is {@code [dIn, dOut]}; our per-layer
 * gradient is {@code [dOut, dIn+1]}: its first {@code dIn} columns are the transpose of the HF
 * weight gradient, the last column the bias gradient.
 */
package io.influence.core.model;
