package io.influence.core.score;

import java.util.List;
import java.util.Map;

/**
 * Per query id, the kept training examples, best first: highest scores ({@code top}) and lowest ({@code bottom}),
 * and how many training rows were scored to find them.
 */
public record Ranking(Map<String, List<TopK.Scored>> top, Map<String, List<TopK.Scored>> bottom, long rowsScored) {}
