package io.influence.core.tokenizer;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A tokenizer file that cannot be used: the message names the file, what is wrong in it (field,
 * line or merge number) and a HINT on how to fix it.
 */
public final class TokenizerFormatException extends IOException {
  private static final long serialVersionUID = 1L;
  private final transient Path file;

  public TokenizerFormatException(Path file, String problem, String hint) {
    super(file + ": " + problem + " HINT: " + hint);
    this.file = file;
  }

  /** The offending file. */
  public Path file() {
    return file;
  }
}
