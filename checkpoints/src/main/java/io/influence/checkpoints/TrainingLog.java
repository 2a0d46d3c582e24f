package io.influence.checkpoints;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * What a training run did at every optimizer step, so that the run can be replayed exactly
 * (SGD-influence, Hara et al. 2019, needs the parameters of every step and the examples of every
 * mini-batch). Written beside the checkpoints as {@value TrainingLogs#FILE}; the format is
 * documented on {@link TrainingLogs}.
 *
 * @param optimizer         the optimizer's name ({@code "sgd"}, {@code "adamw"})
 * @param optimizerSettings its numeric settings by name ({@code weight_decay}, {@code beta1}, ...)
 * @param clipNorm          the global gradient-norm clip (0 = none)
 * @param seed              the seed of the example order
 * @param corpusSize        the number of training examples; every logged index is below it
 * @param steps             step 1, 2, ... in order, without gaps
 */
public record TrainingLog(String optimizer, Map<String, Double> optimizerSettings, double clipNorm, long seed,
                          int corpusSize, List<Step> steps) {

    /**
     * One optimizer step: {@code θ_{t} = θ_{t-1} − learningRate · clipScale · (1/lossDivisor) Σ_{i ∈ examples} ∇ℓ_i(θ_{t-1})}
     * for plain SGD, {@code ℓ_i} being example {@code i}'s summed loss.
     *
     * @param step         1-based
     * @param learningRate the rate of this step's update
     * @param examples     the corpus indices of the mini-batch, in batch order (an index may repeat
     *                     when a batch spans an epoch boundary)
     * @param lossDivisor  what the batch's summed loss was divided by (predicted tokens for a language model)
     * @param clipScale    the factor the gradient was multiplied by when clipped, 1 when not
     */
    public record Step(int step, double learningRate, int[] examples, double lossDivisor, double clipScale) {
        public Step {
            if (step < 1) {
                throw new IllegalArgumentException("steps are 1-based, got " + step + ".");
            }
            if (!(learningRate > 0) || !Double.isFinite(learningRate)) {
                throw new IllegalArgumentException("learning rate " + learningRate + " at step " + step
                        + " must be positive and finite.");
            }
            examples = Objects.requireNonNull(examples, "examples").clone();
            if (examples.length == 0) {
                throw new IllegalArgumentException("step " + step + " has an empty mini-batch.");
            }
            if (!(lossDivisor > 0) || !Double.isFinite(lossDivisor)) {
                throw new IllegalArgumentException("loss divisor " + lossDivisor + " at step " + step
                        + " must be positive and finite.");
            }
            if (!(clipScale > 0 && clipScale <= 1)) {
                throw new IllegalArgumentException("clip scale " + clipScale + " at step " + step + " must be in (0, 1].");
            }
        }

        /** The mini-batch's corpus indices (a copy). */
        @Override
        public int[] examples() {
            return examples.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Step s && s.step == step && s.learningRate == learningRate
                    && Arrays.equals(s.examples, examples) && s.lossDivisor == lossDivisor && s.clipScale == clipScale;
        }

        @Override
        public int hashCode() {
            return Objects.hash(step, learningRate, Arrays.hashCode(examples), lossDivisor, clipScale);
        }

        @Override
        public String toString() {
            return "Step[" + step + ", lr=" + learningRate + ", examples=" + Arrays.toString(examples) + ", divisor="
                    + lossDivisor + ", clip=" + clipScale + "]";
        }
    }

    public TrainingLog {
        Objects.requireNonNull(optimizer, "optimizer");
        optimizerSettings = java.util.Collections.unmodifiableMap(new TreeMap<>(Objects.requireNonNull(optimizerSettings,
                "optimizerSettings")));
        if (!(clipNorm >= 0) || !Double.isFinite(clipNorm)) {
            throw new IllegalArgumentException("clip norm " + clipNorm + " must be finite and >= 0.");
        }
        if (corpusSize < 1) {
            throw new IllegalArgumentException("corpus size " + corpusSize + " must be >= 1.");
        }
        steps = List.copyOf(Objects.requireNonNull(steps, "steps"));
        for (int i = 0; i < steps.size(); i++) {
            Step s = steps.get(i);
            if (s.step() != i + 1) {
                throw new IllegalArgumentException("the log's entry " + i + " is step " + s.step() + " but should be step "
                        + (i + 1) + " (steps 1, 2, ... without gaps).");
            }
            for (int e : s.examples) {
                if (e < 0 || e >= corpusSize) {
                    throw new IllegalArgumentException("step " + s.step() + " names example " + e + ", outside the corpus of "
                            + corpusSize + ".");
                }
            }
        }
    }
}
