package io.influence.checkpoints;

import java.util.ArrayList;
import java.util.List;

/** Suggestions for a message about a tensor name that is not there. */
final class NameHints {

    private NameHints() {
    }

    /**
     * Up to five of {@code names}, comma-separated: first the one sharing the longest prefix with
     * {@code wanted} (if any prefix is shared), then the first few; {@code "none"} for no names.
     */
    static String near(List<String> names, String wanted) {
        List<String> picks = new ArrayList<>();
        String best = null;
        int bestLen = -1;
        for (String n : names) {
            int l = commonPrefix(n, wanted);
            if (l > bestLen) {
                bestLen = l;
                best = n;
            }
        }
        if (best != null && bestLen > 0) {
            picks.add(best);
        }
        for (String n : names) {
            if (picks.size() >= 5) {
                break;
            }
            if (!picks.contains(n)) {
                picks.add(n);
            }
        }
        return picks.isEmpty() ? "none" : String.join(", ", picks);
    }

    private static int commonPrefix(String a, String b) {
        int n = Math.min(a.length(), b.length());
        int i = 0;
        while (i < n && a.charAt(i) == b.charAt(i)) {
            i++;
        }
        return i;
    }
}
