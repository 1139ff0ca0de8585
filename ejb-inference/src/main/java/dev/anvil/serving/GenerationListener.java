package dev.anvil.serving;

/**
 * Receives the events of one request as they happen.
 *
 * <p><b>Threading:</b> the methods are called on the model's batching thread, which also runs every other
 * request's next step. They must return quickly and never block (no synchronous network writes, no waiting
 * on locks held elsewhere): hand the event to an asynchronous sink (e.g. {@code SseEventSink.send}, which
 * is asynchronous) or a queue. An exception thrown by a listener is logged and otherwise ignored.
 *
 * <p>Order per choice: any number of {@link #onDelta}, then exactly one {@link #onFinish}. After every choice
 * finished, {@link #onComplete} once. If the request fails, {@link #onError} once instead of the remaining events.
 */
public interface GenerationListener {

    /**
     * New text of choice {@code index}. {@code text} may be empty (e.g. while a possible stop string or an
     * incomplete UTF-8 character is held back); {@code logprob} is null unless logprobs were requested.
     */
    void onDelta(int index, String text, TokenLogprob logprob);

    /** Choice {@code index} ended (its full text and tokens are in the final {@link GenerationResult}). */
    default void onFinish(int index, FinishReason reason) {}

    /** Every choice ended. */
    default void onComplete(GenerationResult result) {}

    /** The request failed (e.g. the model was unloaded, or an engine error); no further events follow. */
    default void onError(Throwable error) {}
}
