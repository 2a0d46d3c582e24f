package io.influence.spark.cli;

import io.influence.checkpoints.CheckpointFormatException;
import java.io.FileNotFoundException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.NoSuchFileException;

/**
 * How the command line ends when a stage throws. A user's mistake (bad settings, a missing or malformed file, a
 * refused output folder, an unreachable master: the engine signals these with {@link IllegalArgumentException},
 * {@link IllegalStateException}, {@link CheckpointFormatException} or a missing file, also when Spark wraps them)
 * prints one line, {@code influence: <what, where, HINT: the fix>}, and exits with {@link #USER_ERROR}; the stack
 * trace only with {@code --verbose}. Anything else is a bug: the whole trace, and {@link #BUG}.
 */
final class Failures {

  /** Exit status of a user's mistake (the same as picocli's for a bad command line). */
  static final int USER_ERROR = 2;
  /** Exit status of a bug. */
  static final int BUG = 1;

  private Failures() {}

  static int report(Throwable e, boolean verbose, PrintWriter err) {
    Throwable user = userError(e);
    if (user == null) {
      err.println("influence: internal error (a bug; please report it with this trace):");
      e.printStackTrace(err);
      err.flush();
      return BUG;
    }
    if (verbose) {
      e.printStackTrace(err);
    }
    err.println("influence: " + oneLine(user.getMessage()));
    err.flush();
    return USER_ERROR;
  }

  /** The innermost user-error cause of {@code e}, or null when it is a bug. */
  static Throwable userError(Throwable e) {
    Throwable found = null;
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof IllegalArgumentException || t instanceof IllegalStateException
          || t instanceof CheckpointFormatException || t instanceof FileNotFoundException
          || t instanceof NoSuchFileException || t instanceof UncheckedIOException) {
        found = t;
      }
    }
    return found;
  }

  private static String oneLine(String message) {
    return message == null ? "(no message)" : message.strip().replaceAll("\\s*\\R\\s*", " ");
  }
}
