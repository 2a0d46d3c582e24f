package io.influence.checkpoints;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** config.json parsing: defaults, validation rules, unknown types, and write/read round trips. */
class ModelConfigsTest {
    @TempDir
    Path tmp;

    private Path config(String json) throws Exception {
        Path p = tmp.resolve("config.json");
        Files.writeString(p, json);
        return p;
    }

    private CheckpointFormatException refused(String json, String phrase) throws Exception {
        Path p = config(json);
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> ModelConfigs.read(p));
        assertEquals(p, e.file());
        assertTrue(e.getMessage().contains(phrase), "expected '" + phrase + "' in: " + e.getMessage());
        assertTrue(e.getMessage().contains("HINT: "), e.getMessage());
        return e;
    }

    /** The config.json of Hugging Face's "gpt2" model, with its extra fields. */
    private static final String HF_GPT2 = """
            {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
             "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
             "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768, "n_head": 12,
             "n_layer": 12, "n_positions": 1024, "resid_pdrop": 0.1, "summary_activation": null,
             "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}}, "vocab_size": 50257}
            """;

    @Test
    void read_huggingFaceGpt2Config_parsed() throws Exception {
        assertEquals(new Gpt2Config(50257, 1024, 768, 12, 12, 1e-5, "gelu_new"), ModelConfigs.read(config(HF_GPT2)));
    }

    @Test
    void read_gpt2WithoutOptionalFields_usesDefaults() throws Exception {
        ModelConfig c = ModelConfigs.read(config(
                "{\"model_type\":\"gpt2\",\"vocab_size\":10,\"n_positions\":8,\"n_embd\":4,\"n_layer\":1,\"n_head\":2}"));
        assertEquals(new Gpt2Config(10, 8, 4, 1, 2, 1e-5, "gelu_new"), c);
    }

    @Test
    void read_gpt2EmbdNotDivisibleByHeads_refused() throws Exception {
        refused("{\"model_type\":\"gpt2\",\"vocab_size\":10,\"n_positions\":8,\"n_embd\":5,\"n_layer\":1,\"n_head\":2}",
                "n_embd = 5 is not divisible by n_head = 2");
    }

    @Test
    void read_gpt2ZeroLayers_refused() throws Exception {
        refused("{\"model_type\":\"gpt2\",\"vocab_size\":10,\"n_positions\":8,\"n_embd\":4,\"n_layer\":0,\"n_head\":2}",
                "n_layer = 0 must be positive");
    }

    @Test
    void read_gpt2MissingField_refusedNamingIt() throws Exception {
        refused("{\"model_type\":\"gpt2\",\"vocab_size\":10,\"n_positions\":8,\"n_layer\":1,\"n_head\":2}",
                "missing the required field \"n_embd\"");
    }

    @Test
    void read_gpt2StringWhereIntegerBelongs_refused() throws Exception {
        refused("{\"model_type\":\"gpt2\",\"vocab_size\":\"10\",\"n_positions\":8,\"n_embd\":4,\"n_layer\":1,\"n_head\":2}",
                "field \"vocab_size\" must be an integer but is a string");
    }

    @Test
    void read_gpt2FractionalCount_refused() throws Exception {
        refused("{\"model_type\":\"gpt2\",\"vocab_size\":10.5,\"n_positions\":8,\"n_embd\":4,\"n_layer\":1,\"n_head\":2}",
                "field \"vocab_size\" must be an integer");
    }

    @Test
    void read_gpt2NegativeEpsilon_refused() throws Exception {
        refused("{\"model_type\":\"gpt2\",\"vocab_size\":10,\"n_positions\":8,\"n_embd\":4,\"n_layer\":1,\"n_head\":2,"
                + "\"layer_norm_epsilon\":-1}", "layer_norm_epsilon = -1.0 must be positive");
    }

    @Test
    void read_gpt2UnknownActivation_refused() throws Exception {
        refused("{\"model_type\":\"gpt2\",\"vocab_size\":10,\"n_positions\":8,\"n_embd\":4,\"n_layer\":1,\"n_head\":2,"
                + "\"activation_function\":\"swishy\"}", "activation_function \"swishy\" is not supported");
    }

    @Test
    void read_llamaWithoutOptionalFields_usesDefaults() throws Exception {
        ModelConfig c = ModelConfigs.read(config("{\"model_type\":\"llama\",\"vocab_size\":32000,\"hidden_size\":64,"
                + "\"intermediate_size\":172,\"num_hidden_layers\":2,\"num_attention_heads\":8,\"rms_norm_eps\":1e-6,"
                + "\"max_position_embeddings\":128}"));
        assertEquals(new LlamaConfig(32000, 64, 172, 2, 8, 8, 1e-6, 10000.0, false, 128), c);
    }

    @Test
    void read_llamaGroupedQueryAttention_parsed() throws Exception {
        ModelConfig c = ModelConfigs.read(config("{\"model_type\":\"llama\",\"vocab_size\":128256,\"hidden_size\":2048,"
                + "\"intermediate_size\":8192,\"num_hidden_layers\":16,\"num_attention_heads\":32,\"num_key_value_heads\":8,"
                + "\"rms_norm_eps\":1e-5,\"rope_theta\":500000.0,\"tie_word_embeddings\":true,\"max_position_embeddings\":131072,"
                + "\"torch_dtype\":\"bfloat16\"}"));
        assertEquals(new LlamaConfig(128256, 2048, 8192, 16, 32, 8, 1e-5, 500000.0, true, 131072), c);
    }

    @Test
    void read_llamaKvHeadsNotDividingHeads_refused() throws Exception {
        refused("{\"model_type\":\"llama\",\"vocab_size\":100,\"hidden_size\":64,\"intermediate_size\":172,"
                + "\"num_hidden_layers\":2,\"num_attention_heads\":8,\"num_key_value_heads\":3,\"rms_norm_eps\":1e-6,"
                + "\"max_position_embeddings\":128}", "num_key_value_heads = 3 does not divide num_attention_heads = 8");
    }

    @Test
    void read_llamaTieNotBoolean_refused() throws Exception {
        refused("{\"model_type\":\"llama\",\"vocab_size\":100,\"hidden_size\":64,\"intermediate_size\":172,"
                + "\"num_hidden_layers\":2,\"num_attention_heads\":8,\"rms_norm_eps\":1e-6,\"tie_word_embeddings\":\"yes\","
                + "\"max_position_embeddings\":128}", "field \"tie_word_embeddings\" must be true or false");
    }

    @Test
    void read_unknownModelType_refusedListingSupported() throws Exception {
        CheckpointFormatException e = refused("{\"model_type\":\"gemma\",\"vocab_size\":10}", "\"gemma\", which is not supported");
        assertTrue(e.getMessage().contains("[gpt2, llama, mistral, qwen2, qwen3]"), e.getMessage());
    }

    @Test
    void read_missingModelType_refusedListingSupported() throws Exception {
        refused("{\"vocab_size\":10}", "supported model types: [gpt2, llama, mistral, qwen2, qwen3]");
    }

    @Test
    void read_notAnObject_refused() throws Exception {
        refused("[]", "must be a JSON object");
    }

    @Test
    void read_duplicateKey_refused() throws Exception {
        refused("{\"model_type\":\"gpt2\",\"model_type\":\"llama\"}", "Duplicate field 'model_type'");
    }

    @Test
    void read_missingFile_refused() throws Exception {
        Path p = tmp.resolve("none.json");
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> ModelConfigs.read(p));
        assertEquals(p, e.file());
    }

    @Test
    void write_gpt2_huggingFaceFieldsReadBack() throws Exception {
        Gpt2Config g = new Gpt2Config(101, 16, 24, 2, 3, 1e-6, "relu");
        Path p = tmp.resolve("config.json");
        ModelConfigs.write(p, g);
        assertEquals(g, ModelConfigs.read(p));
        var json = Json.MAPPER.readTree(p.toFile());
        assertEquals("gpt2", json.get("model_type").textValue());
        assertEquals(24, json.get("n_embd").intValue());
        assertEquals(16, json.get("n_positions").intValue());
        assertEquals("relu", json.get("activation_function").textValue());
    }

    @Test
    void write_llama_readBackEqual() throws Exception {
        LlamaConfig l = new LlamaConfig(100, 64, 172, 2, 8, 2, 1e-6, 5e5, true, 256);
        Path p = tmp.resolve("config.json");
        ModelConfigs.write(p, l);
        assertEquals(l, ModelConfigs.read(p));
    }

    @Test
    void gpt2Config_constructedWithBadHeads_illegalArgument() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Gpt2Config(10, 8, 6, 1, 4, 1e-5, "gelu_new"));
        assertTrue(e.getMessage().contains("HINT"), e.getMessage());
    }
}
