package io.influence.checkpoints;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** PEFT adapter_config.json: what is read, the scale, target matching, and every refusal (naming the key). */
class LoraConfigTest {
    @TempDir
    Path tmp;

    private static final String PEFT = "{\"peft_type\":\"LORA\",\"task_type\":\"CAUSAL_LM\",\"r\":%s,\"lora_alpha\":16,"
            + "\"lora_dropout\":0.05,\"target_modules\":%s,\"bias\":\"none\",\"fan_in_fan_out\":false,\"use_rslora\":%s,"
            + "\"modules_to_save\":null,\"rank_pattern\":{},\"alpha_pattern\":{},\"use_dora\":false,"
            + "\"base_model_name_or_path\":\"x\"%s}";

    private Path write(String json) throws Exception {
        Path p = tmp.resolve("adapter_config.json");
        Files.writeString(p, json);
        return p;
    }

    @Test
    void read_peftConfig_scaleAlphaOverR() throws Exception {
        LoraConfig c = LoraConfig.read(write(String.format(PEFT, 4, "[\"q_proj\",\"v_proj\"]", false, "")));
        assertEquals(new LoraConfig(4, 16, List.of("q_proj", "v_proj"), false, 0.05), c);
        assertEquals(4.0, c.scale());
        assertTrue(c.targets("model.layers.3.self_attn.q_proj"));
        assertFalse(c.targets("model.layers.3.self_attn.k_proj"));
        assertFalse(c.targets("model.layers.3.self_attn.xq_proj"));
    }

    @Test
    void read_rslora_scaleAlphaOverSqrtR() throws Exception {
        assertEquals(8.0, LoraConfig.read(write(String.format(PEFT, 4, "[\"q_proj\"]", true, ""))).scale());
    }

    @Test
    void targets_dottedSuffix_matchesLikePeft() {
        LoraConfig c = new LoraConfig(2, 4, List.of("mlp.up_proj"), false, 0);
        assertTrue(c.targets("model.layers.0.mlp.up_proj"));
        assertFalse(c.targets("model.layers.0.self_attn.up_proj"));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "\"peft_type\":\"IA3\"|\"peft_type\": \"IA3\"",
        "\"bias\":\"all\"|\"bias\": \"all\"",
        "\"fan_in_fan_out\":true|\"fan_in_fan_out\": true",
        "\"use_dora\":true|\"use_dora\": true",
        "\"lora_bias\":true|\"lora_bias\": true",
        "\"exclude_modules\":[\"v_proj\"]|\"exclude_modules\"",
        "\"trainable_token_indices\":[1, 2]|\"trainable_token_indices\"",
        "\"modules_to_save\":[\"lm_head\"]|\"modules_to_save\"",
        "\"target_modules\":\"all-linear\"|only the list form",
        "\"r\":0|r = 0 must be positive",
    })
    void read_eachRefusal_namesKeyWithHint(String field, String phrase) throws Exception {
        String base = "{\"peft_type\":\"LORA\",\"r\":4,\"lora_alpha\":8,\"target_modules\":[\"q_proj\"],\"bias\":\"none\"}";
        String key = field.substring(0, field.indexOf(':'));
        String json = base.contains(key + ":") ? base.replaceAll(java.util.regex.Pattern.quote(key) + ":(\"[^\"]*\"|\\[[^]]*]|\\d+)",
                java.util.regex.Matcher.quoteReplacement(field)) : base.replace("}", "," + field + "}");
        Path p = write(json);
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> LoraConfig.read(p), json);
        assertTrue(e.getMessage().contains(phrase), e.getMessage());
        assertTrue(e.getMessage().contains("HINT: "), e.getMessage());
    }

    @Test
    void read_missingTargets_refused() throws Exception {
        Path p = write("{\"r\":4,\"lora_alpha\":8}");
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> LoraConfig.read(p));
        assertTrue(e.getMessage().contains("\"target_modules\""), e.getMessage());
    }
}
