package io.influence.checkpoints;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.influence.checkpoints.LlamaConfig.Family;
import io.influence.checkpoints.LlamaConfig.Rope;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Llama-family config.json: every accepted spelling, every refusal (naming the key), and write/read round trips. */
class LlamaConfigsTest {
    @TempDir
    Path tmp;

    private static final String BASE = "\"vocab_size\":100,\"hidden_size\":24,\"intermediate_size\":40,"
            + "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"num_key_value_heads\":2,\"max_position_embeddings\":64,"
            + "\"rms_norm_eps\":1e-5";

    private LlamaConfig read(String type, String extra) throws Exception {
        Path p = tmp.resolve("config.json");
        Files.writeString(p, "{\"model_type\":\"" + type + "\"," + BASE + (extra.isEmpty() ? "" : "," + extra) + "}");
        return (LlamaConfig) ModelConfigs.read(p);
    }

    private String refused(String type, String extra, String... phrases) throws Exception {
        Path p = tmp.resolve("config.json");
        Files.writeString(p, "{\"model_type\":\"" + type + "\"," + BASE + (extra.isEmpty() ? "" : "," + extra) + "}");
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> ModelConfigs.read(p));
        assertEquals(p, e.file());
        for (String phrase : phrases) {
            assertTrue(e.getMessage().contains(phrase), "expected '" + phrase + "' in: " + e.getMessage());
        }
        assertTrue(e.getMessage().contains("HINT: "), e.getMessage());
        return e.getMessage();
    }

    @Test
    void read_plainLlama_defaults() throws Exception {
        LlamaConfig c = read("llama", "");
        assertEquals(new LlamaConfig(Family.LLAMA, 100, 24, 40, 2, 4, 2, 6, 1e-5, 64, false, false, false, 0,
                Rope.standard(10000)), c);
        assertEquals(6, c.headSize());
        assertFalse(c.qkvBias());
        assertFalse(c.outputBias());
        assertFalse(c.qkNorm());
    }

    @Test
    void read_explicitHeadDim_overridesAndSkipsDivisibility() throws Exception {
        Path p = tmp.resolve("config.json");
        Files.writeString(p, "{\"model_type\":\"qwen3\",\"vocab_size\":100,\"hidden_size\":25,\"intermediate_size\":40,"
                + "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"max_position_embeddings\":64,\"head_dim\":8}");
        LlamaConfig c = (LlamaConfig) ModelConfigs.read(p);
        assertEquals(8, c.headDim());
        assertEquals(4, c.numKeyValueHeads());
        assertEquals(1e-6, c.rmsNormEps());
        assertTrue(c.qkNorm());
    }

    @Test
    void read_nullHeadDim_derivedFromHidden() throws Exception {
        assertEquals(6, read("mistral", "\"head_dim\":null").headDim());
    }

    @Test
    void read_hiddenNotDivisibleWithoutHeadDim_refused() throws Exception {
        Path p = tmp.resolve("config.json");
        Files.writeString(p, "{\"model_type\":\"llama\",\"vocab_size\":100,\"hidden_size\":25,\"intermediate_size\":40,"
                + "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"max_position_embeddings\":64}");
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> ModelConfigs.read(p));
        assertTrue(e.getMessage().contains("hidden_size = 25 is not divisible by num_attention_heads = 4"), e.getMessage());
    }

    @Test
    void read_llamaBiases_attentionAndMlp() throws Exception {
        LlamaConfig c = read("llama", "\"attention_bias\":true,\"mlp_bias\":true");
        assertTrue(c.qkvBias());
        assertTrue(c.outputBias());
        assertTrue(c.mlpBias());
    }

    @Test
    void read_qwen2_qkvBiasAlwaysOutputBiasNever() throws Exception {
        LlamaConfig c = read("qwen2", "\"attention_bias\":true,\"use_sliding_window\":false,\"sliding_window\":4096,"
                + "\"max_window_layers\":21");
        assertEquals(Family.QWEN2, c.family());
        assertTrue(c.qkvBias());
        assertFalse(c.outputBias());
        assertFalse(c.attentionBias());
        assertEquals(0, c.slidingWindow());
    }

    @Test
    void read_qwen2UseSlidingWindowTrue_refusedNamingKey() throws Exception {
        refused("qwen2", "\"use_sliding_window\":true,\"sliding_window\":4096", "\"use_sliding_window\": true");
    }

    @Test
    void read_qwen2SlidingLayerType_refusedNamingKey() throws Exception {
        assertEquals(0, read("qwen2", "\"layer_types\":[\"full_attention\",\"full_attention\"]").slidingWindow());
        refused("qwen2", "\"layer_types\":[\"full_attention\",\"sliding_attention\"]", "\"layer_types\"",
                "sliding_attention");
    }

    @Test
    void read_mistralWindow_parsedAndNullMeansNone() throws Exception {
        assertEquals(4096, read("mistral", "\"sliding_window\":4096").slidingWindow());
        assertEquals(0, read("mistral", "\"sliding_window\":null").slidingWindow());
        assertEquals(0, read("mistral", "").slidingWindow());
    }

    @Test
    void read_mistralZeroWindow_refused() throws Exception {
        refused("mistral", "\"sliding_window\":0", "\"sliding_window\": 0");
    }

    @Test
    void read_ropeScalingLinear_typeSpelling() throws Exception {
        assertEquals(Rope.linear(10000, 2), read("llama", "\"rope_scaling\":{\"type\":\"linear\",\"factor\":2.0}").rope());
    }

    @Test
    void read_ropeScalingLlama3_ropeTypeSpellingWithTopLevelTheta() throws Exception {
        LlamaConfig c = read("llama", "\"rope_theta\":500000.0,\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8.0,"
                + "\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,\"original_max_position_embeddings\":8192}");
        assertEquals(Rope.llama3(500000, 8, 1, 4, 8192), c.rope());
        assertEquals(500000, c.ropeTheta());
    }

    @Test
    void read_ropeParametersTransformers5_thetaInside() throws Exception {
        LlamaConfig c = read("llama", "\"rope_parameters\":{\"rope_type\":\"default\",\"rope_theta\":123456.0}");
        assertEquals(Rope.standard(123456), c.rope());
        LlamaConfig l3 = read("llama", "\"rope_parameters\":{\"rope_type\":\"llama3\",\"rope_theta\":500000.0,\"factor\":32.0,"
                + "\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,\"original_max_position_embeddings\":8192}");
        assertEquals(Rope.llama3(500000, 32, 1, 4, 8192), l3.rope());
    }

    @Test
    void read_ropeScalingNullOrDefault_standard() throws Exception {
        assertEquals(Rope.standard(10000), read("llama", "\"rope_scaling\":null").rope());
        assertEquals(Rope.standard(777), read("llama", "\"rope_theta\":777,\"rope_scaling\":{\"rope_type\":\"default\"}").rope());
    }

    @ParameterizedTest
    @ValueSource(strings = {"yarn", "dynamic", "longrope"})
    void read_otherRopeType_refusedNamingKeyAndValue(String type) throws Exception {
        refused("llama", "\"rope_scaling\":{\"rope_type\":\"" + type + "\",\"factor\":4.0}", "\"rope_scaling\"",
                "\"" + type + "\"", "[default, linear, llama3]");
        refused("qwen3", "\"rope_parameters\":{\"rope_type\":\"" + type + "\",\"rope_theta\":1e6,\"factor\":4.0}",
                "\"rope_parameters\"", "\"" + type + "\"");
    }

    @Test
    void read_llama3MissingFactor_refusedNamingKey() throws Exception {
        refused("llama", "\"rope_scaling\":{\"rope_type\":\"llama3\",\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,"
                + "\"original_max_position_embeddings\":8192}", "\"rope_scaling.factor\"");
    }

    @ParameterizedTest
    @ValueSource(strings = {"num_local_experts", "num_experts", "num_experts_per_tok"})
    void read_mixtureOfExpertsKey_refusedNamingKey(String key) throws Exception {
        refused("mistral", "\"" + key + "\":8", "\"" + key + "\": 8", "mixture-of-experts");
    }

    @Test
    void read_otherActivation_refusedNamingKey() throws Exception {
        refused("llama", "\"hidden_act\":\"gelu\"", "\"hidden_act\": \"gelu\"", "silu");
    }

    @Test
    void read_partialRotary_refused() throws Exception {
        refused("llama", "\"partial_rotary_factor\":0.5", "\"partial_rotary_factor\": 0.5");
    }

    @Test
    void write_everyFamilyAndRope_readsBackEqual() throws Exception {
        LlamaConfig[] configs = {
            new LlamaConfig(Family.LLAMA, 103, 24, 40, 2, 4, 2, 8, 1e-6, 64, true, true, true, 0,
                    Rope.llama3(500000, 8, 1, 4, 16)),
            new LlamaConfig(Family.LLAMA, 97, 16, 36, 2, 2, 1, 8, 1e-6, 32, false, false, false, 0, Rope.linear(10000, 2)),
            new LlamaConfig(Family.MISTRAL, 89, 24, 40, 2, 4, 2, 6, 1e-5, 32, false, false, false, 4, Rope.standard(1e6)),
            new LlamaConfig(Family.MISTRAL, 89, 24, 40, 2, 4, 2, 6, 1e-5, 32, false, false, false, 0, Rope.standard(1e6)),
            new LlamaConfig(Family.QWEN2, 101, 24, 48, 2, 4, 2, 6, 1e-6, 32, true, false, false, 0, Rope.standard(1e4)),
            new LlamaConfig(Family.QWEN3, 91, 16, 40, 2, 4, 1, 8, 1e-6, 32, false, true, false, 0, Rope.standard(1e4)),
        };
        for (LlamaConfig c : configs) {
            Path p = tmp.resolve("config.json");
            ModelConfigs.write(p, c);
            assertEquals(c, ModelConfigs.read(p), Files.readString(p));
        }
    }

    @Test
    void rope_llama3InverseFrequencies_matchFormula() {
        // the llama3 scaling regimes, checked by hand: head_dim 8, theta 500000, original 16
        Rope r = Rope.llama3(500000, 8, 1, 4, 16);
        double[] inv = r.inverseFrequencies(8);
        double[] base = Rope.standard(500000).inverseFrequencies(8);
        assertEquals(1.0, base[0]);
        double s = (16 / (2 * Math.PI) - 1) / (4 - 1);     // wavelength 2π between 16/4 and 16/1: smoothed
        assertEquals((1 - s) / 8 + s, inv[0], 1e-15);
        assertEquals(base[3] / 8, inv[3], 1e-18);      // long wavelength: divided by the factor
        assertArrayEquals(new double[] {0.5, 0.5 / Math.pow(10000, 0.5)}, Rope.linear(10000, 2).inverseFrequencies(4), 1e-18);
    }

    @Test
    void llamaConfig_qwen2WithAttentionBias_illegalArgument() {
        assertThrows(IllegalArgumentException.class, () -> new LlamaConfig(Family.QWEN2, 10, 8, 8, 1, 2, 2, 4, 1e-6, 8,
                false, true, false, 0, Rope.standard(1e4)));
    }
}
