package dev.anvil.engine;

import java.util.List;

/**
 * One sequence for the {@link Scheduler}: a prompt and how to continue it.
 *
 * @param promptTokens the prompt's token ids, at least one
 * @param sampling     how tokens are chosen (its {@code topLogprobs} decides how many alternatives each step reports)
 * @param maxTokens    at most this many tokens are generated (at least 1)
 * @param stop         stop strings (may be empty, not null)
 * @param priority     {@link Priority#LOW} for work nobody waits for (shadow copies of experiment traffic): admitted
 *                     only when no NORMAL sequence waits and the batch has room, and preempted before any NORMAL one
 * @param grammar      the grammar the output must follow (constrained decoding), or null
 */
public record SequenceRequest(
        int[] promptTokens,
        SamplingParams sampling,
        int maxTokens,
        List<String> stop,
        Priority priority,
        GrammarConstraint grammar) {

    /** Scheduling class of a sequence. */
    public enum Priority {
        NORMAL,
        LOW
    }

    /** A NORMAL-priority sequence. */
    public SequenceRequest(int[] promptTokens, SamplingParams sampling, int maxTokens, List<String> stop) {
        this(promptTokens, sampling, maxTokens, stop, Priority.NORMAL, null);
    }

    /** Without a grammar. */
    public SequenceRequest(
            int[] promptTokens, SamplingParams sampling, int maxTokens, List<String> stop, Priority priority) {
        this(promptTokens, sampling, maxTokens, stop, priority, null);
    }

    public SequenceRequest {
        if (priority == null) priority = Priority.NORMAL;
        if (promptTokens == null || promptTokens.length == 0)
            throw new IllegalArgumentException("the prompt has no tokens");
        if (sampling == null) throw new IllegalArgumentException("sampling parameters are null");
        if (maxTokens < 1) throw new IllegalArgumentException("max tokens must be >= 1, was " + maxTokens);
        promptTokens = promptTokens.clone();
        stop = stop == null ? List.of() : List.copyOf(stop);
    }
}
