package dev.anvil.serving;

import java.util.List;

/**
 * Log-probability of one generated token (natural log, of the model's own distribution before sampling
 * settings), with the most likely alternatives when they were asked for.
 *
 * @param token   token id
 * @param text    the token's text (its bytes decoded as UTF-8; a partial multi-byte character shows as U+FFFD)
 * @param bytes   the token's raw bytes
 * @param logprob natural-log probability
 * @param top     the {@code logprobs} most likely tokens at this position, best first (empty when 0 were asked for)
 */
public record TokenLogprob(int token, String text, byte[] bytes, float logprob, List<Alternative> top) {

    /** One of the most likely tokens at a position. */
    public record Alternative(int token, String text, byte[] bytes, float logprob) {}
}
