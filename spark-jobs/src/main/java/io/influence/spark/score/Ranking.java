package io.influence.spark.score;

import io.influence.core.score.TopK;
import java.util.List;
import java.util.Map;

/** Per query id, the kept training examples, best first: highest scores ({@code top}) and lowest ({@code bottom}). */
public record Ranking(Map<String, List<TopK.Scored>> top, Map<String, List<TopK.Scored>> bottom, long rowsScored) {}
