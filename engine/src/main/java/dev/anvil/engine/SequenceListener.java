package dev.anvil.engine;

/**
 * Receives the events of one {@link Scheduler} sequence.
 *
 * <p><b>Called on the scheduler's thread</b>, between forward passes of the whole batch: an implementation
 * must return quickly and must not block (no I/O that can stall, no waiting for other threads), or every
 * sequence of the model stalls with it. Hand events to a queue or an asynchronous sink instead. Exceptions
 * thrown here are caught and reported through {@link System.Logger}; they do not affect the sequence.
 *
 * <p>Order: {@link #onPrefixCacheLookup} once when the sequence is first admitted (with prefix caching on), then
 * {@link #onToken} for every generated token (the last one carries the finish reason), then exactly one
 * {@link #onFinish}; or {@link #onError} once, after which nothing follows.
 */
public interface SequenceListener {

    /**
     * The sequence was admitted for the first time and its prompt of {@code promptTokens} tokens was looked up in
     * the prefix cache: {@code cachedTokens} of them were found there and are not computed. Only when the scheduler
     * caches prefixes; also in {@link SequenceOutcome#cachedTokens()}.
     */
    default void onPrefixCacheLookup(int promptTokens, int cachedTokens) {}

    /**
     * The sequence was admitted to the running batch for the first time (its wait in the queue ended); called before
     * {@link #onPrefixCacheLookup}, on the batching thread, whether or not prefixes are cached.
     */
    default void onAdmitted() {}

    /**
     * A token was generated. {@code step.text()} is the text that became final with it (possibly empty);
     * {@code step.sample()} holds its log-probability and the requested alternatives.
     */
    void onToken(Generation.Step step);

    /** The sequence ended (normally or by cancellation) and its KV blocks were returned. */
    void onFinish(SequenceOutcome outcome);

    /** The sequence failed (engine error, scheduler closed); its KV blocks were returned. */
    void onError(Throwable error);
}
