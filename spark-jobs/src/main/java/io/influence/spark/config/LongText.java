package io.influence.spark.config;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Setting {@code influence.input.long-text}: what {@code train} and every corpus stage (extract, fit-ekfac,
 * self-influence, CG/LiSSA curvature products) do with a text that has more tokens than the model's context. One
 * policy for all of them, so that a corpus {@code train} learnt from can be scored by {@code run} as it is.
 *
 * <p>{@link #WINDOWS} cuts the tokens into consecutive windows of the context; window {@code k} of row
 * {@code id} is the training sequence {@code id#wk} ({@link #windowId}). A trailing window of a single token is
 * dropped (nothing to predict). Ids ending in {@code #w} and digits are refused as bad rows under every policy
 * ({@link #looksLikeWindow}), so a window id never collides with a real one and always names its row
 * ({@link #rowId}). {@link #TRUNCATE} keeps the first context tokens under the row's own id. {@link #ERROR}
 * refuses the row (a bad row, see {@link BadRows}).
 */
public enum LongText {
  /** Consecutive windows of the context, ids {@code <id>#w0}, {@code <id>#w1}, ... (default). */
  WINDOWS,
  /** The first context tokens, same id. */
  TRUNCATE,
  /** A bad row: the text is refused. */
  ERROR;

  /** The setting's key, relative to {@code influence}. */
  public static final String KEY = "input.long-text";

  /** Between a row id and its window number. */
  public static final String SEPARATOR = "#w";

  /** A Java regular expression matching the window suffix at the end of a training sequence id. */
  public static final String SUFFIX_REGEX = SEPARATOR + "([0-9]+)\\z";

  private static final Pattern WINDOW = Pattern.compile("(.*)" + SUFFIX_REGEX, Pattern.DOTALL);

  /**
   * The training sequences of a row with {@code tokens} for a model of {@code context} positions: the tokens
   * themselves when they fit (and under {@link #ERROR}, where the caller then refuses them), otherwise the windows
   * or the truncated prefix. Index {@code k} of the result is window {@code k}.
   */
  public List<int[]> pieces(int[] tokens, int context) {
    if (context < 1) {
      throw new IllegalArgumentException("context must be >= 1, got " + context);
    }
    if (tokens.length <= context || this == ERROR) {
      return List.of(tokens);
    }
    if (this == TRUNCATE) {
      return List.of(Arrays.copyOf(tokens, context));
    }
    List<int[]> out = new ArrayList<>();
    for (int start = 0; start < tokens.length; start += context) {
      int[] piece = Arrays.copyOfRange(tokens, start, Math.min(tokens.length, start + context));
      if (piece.length >= 2 || out.isEmpty()) {
        out.add(piece);
      }
    }
    return out;
  }

  /** The id of piece {@code k} of row {@code id} with {@code length} tokens: {@code id#wk} for a windowed row. */
  public String pieceId(String id, int k, int length, int context) {
    return this == WINDOWS && length > context ? windowId(id, k) : id;
  }

  /** {@code id#wk}. */
  public static String windowId(String id, int k) {
    return id + SEPARATOR + k;
  }

  /** True when {@code id} ends in {@code #w} and digits, the shape of a window id. */
  public static boolean looksLikeWindow(String id) {
    return WINDOW.matcher(id).matches();
  }

  /** The corpus row a training sequence id comes from: {@code id} without a window suffix. */
  public static String rowId(String sequenceId) {
    var m = WINDOW.matcher(sequenceId);
    return m.matches() ? m.group(1) : sequenceId;
  }

  /**
   * The tokens the stages used for training sequence {@code sequenceId} whose corpus row has {@code tokens}: its
   * window when the id names one, else the first {@code context} tokens (the whole row when it fits).
   */
  public static int[] sequence(String sequenceId, int[] tokens, int context) {
    var m = WINDOW.matcher(sequenceId);
    int start = m.matches() ? Integer.parseInt(m.group(2)) * context : 0;
    if (start >= tokens.length) {
      throw new IllegalArgumentException("training sequence " + sequenceId + " starts at token " + start
          + " but its row has " + tokens.length + " tokens. HINT: score with the corpus the gradients were "
          + "extracted from");
    }
    return Arrays.copyOfRange(tokens, start, Math.min(tokens.length, start + context));
  }
}
