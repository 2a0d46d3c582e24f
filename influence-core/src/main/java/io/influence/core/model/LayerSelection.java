package io.influence.core.model;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Which tracked layers a setting such as {@code extract.layers} selects. Each entry is an exact
 * layer name ({@code h.1.mlp.c_fc}, {@code model.layers.3.mlp.down_proj}) or a pattern in which
 * {@code *} stands for any run of characters ({@code *.mlp.*}, {@code model.layers.*.self_attn.q_proj}).
 * The result follows the model's order and names each layer once; an empty list selects every layer.
 */
public final class LayerSelection {

  private LayerSelection() {}

  /**
   * The layers of {@code available} (in their order) that {@code entries} select.
   *
   * @param settingKey named in the error for an entry that selects nothing
   * @throws IllegalArgumentException for an entry that matches no layer, naming it, the key and examples
   */
  public static List<String> select(List<String> entries, List<String> available, String settingKey) {
    if (entries == null || entries.isEmpty()) {
      return List.copyOf(available);
    }
    Set<String> chosen = new LinkedHashSet<>();
    for (String entry : entries) {
      Pattern p = compile(entry);
      boolean any = false;
      for (String layer : available) {
        if (p.matcher(layer).matches()) {
          chosen.add(layer);
          any = true;
        }
      }
      if (!any) {
        throw new IllegalArgumentException(settingKey + " entry \"" + entry + "\" matches no linear layer of the model"
            + "; HINT: use layer names such as " + examples(available) + ", or * as a wildcard (e.g. \"*"
            + suffix(available) + "\"); an empty list tracks every linear layer");
      }
    }
    List<String> out = new ArrayList<>();
    for (String layer : available) {
      if (chosen.contains(layer)) {
        out.add(layer);
      }
    }
    return out;
  }

  private static Pattern compile(String entry) {
    List<String> parts = new ArrayList<>();
    for (String part : entry.split("\\*", -1)) {
      parts.add(Pattern.quote(part));
    }
    return Pattern.compile(String.join(".*", parts));
  }

  private static String examples(List<String> available) {
    List<String> ex = available.subList(0, Math.min(3, available.size()));
    return String.join(", ", ex);
  }

  private static String suffix(List<String> available) {
    if (available.isEmpty()) {
      return "";
    }
    String first = available.get(0);
    int dot = first.lastIndexOf('.');
    return dot < 0 ? first : first.substring(dot);
  }
}
