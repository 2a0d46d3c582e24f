package io.influence.checkpoints;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainingLogsTest {

  @TempDir Path run;

  private void writeLog() throws Exception {
    Files.createDirectories(run.resolve(TrainingLogs.INITIAL));
    new SafetensorsWriter().put("w", new long[] {2}, new float[] {1f, 2f})
        .write(run.resolve(TrainingLogs.INITIAL).resolve("model.safetensors"));
    try (TrainingLogs.Writer w = TrainingLogs.start(run, "sgd", Map.of("weight_decay", 0.0), 0, 7, 5)) {
      w.append(new TrainingLog.Step(1, 0.5, new int[] {4, 0}, 11, 1));
      w.append(new TrainingLog.Step(2, 0.25, new int[] {3, 3}, 9, 0.5));
    }
  }

  private void editLine(int index, String from, String to) throws Exception {
    Path file = run.resolve(TrainingLogs.FILE);
    List<String> lines = new java.util.ArrayList<>(Files.readAllLines(file, StandardCharsets.UTF_8));
    assertTrue(lines.get(index).contains(from), lines.get(index));
    lines.set(index, lines.get(index).replace(from, to));
    Files.write(file, lines, StandardCharsets.UTF_8);
  }

  private String refused() {
    return assertThrows(CheckpointFormatException.class, () -> TrainingLogs.read(run)).getMessage();
  }

  @Test
  void writeThenRead_roundTripsEveryField_andInitialStateChecksItsHash() throws Exception {
    writeLog();
    TrainingLog log = TrainingLogs.read(run);
    assertEquals("sgd", log.optimizer());
    assertEquals(Map.of("weight_decay", 0.0), log.optimizerSettings());
    assertEquals(7, log.seed());
    assertEquals(5, log.corpusSize());
    assertEquals(List.of(new TrainingLog.Step(1, 0.5, new int[] {4, 0}, 11, 1),
        new TrainingLog.Step(2, 0.25, new int[] {3, 3}, 9, 0.5)), log.steps());
    assertArrayEquals(new int[] {3, 3}, log.steps().get(1).examples());
    assertEquals(run.resolve(TrainingLogs.INITIAL), TrainingLogs.initialState(run));

    new SafetensorsWriter().put("w", new long[] {2}, new float[] {1f, 3f})
        .write(run.resolve(TrainingLogs.INITIAL).resolve("model.safetensors"));
    String changed = assertThrows(CheckpointFormatException.class, () -> TrainingLogs.initialState(run)).getMessage();
    assertTrue(changed.contains("SHA-256") && changed.contains("HINT"), changed);
  }

  @Test
  void read_missingLog_namesTheFileAndHowToGetOne() {
    String m = refused();
    assertTrue(m.contains(TrainingLogs.FILE) && m.contains("HINT: retrain"), m);
  }

  @Test
  void read_unknownField_refusedNamingLineAndField() throws Exception {
    writeLog();
    editLine(1, "\"clip_scale\"", "\"clip_scael\"");
    String m = refused();
    assertTrue(m.contains("line 2") && m.contains("clip_scael"), m);
  }

  @Test
  void read_gapInSteps_refused() throws Exception {
    writeLog();
    editLine(2, "\"step\":2", "\"step\":3");
    assertTrue(refused().contains("step 2 was expected"));
  }

  @Test
  void read_exampleOutsideCorpus_refused() throws Exception {
    writeLog();
    editLine(1, "[4,0]", "[5,0]");
    String m = refused();
    assertTrue(m.contains("line 2") && m.contains("examples[0]"), m);
  }

  @Test
  void read_badJsonOrBadNumbers_refusedNamingTheLine() throws Exception {
    writeLog();
    editLine(2, "}", "");
    assertTrue(refused().contains("line 3"));
    writeLog();
    editLine(1, "\"learning_rate\":0.5", "\"learning_rate\":-0.5");
    String m = refused();
    assertTrue(m.contains("line 2") && m.contains("learning rate"), m);
    writeLog();
    editLine(0, TrainingLogs.FORMAT, "influence-training-log/9");
    assertTrue(refused().contains("\"format\""));
  }
}
