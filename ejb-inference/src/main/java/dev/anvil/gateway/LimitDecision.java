package dev.anvil.gateway;

/**
 * The outcome of one rate-limit check, with what the {@code x-ratelimit-*} headers report.
 *
 * @param allowed        whether the request may go on
 * @param limit          the limit per minute (0 = unlimited; then the other fields are meaningless)
 * @param remaining      what is left in the bucket after this request
 * @param resetMillis    time until the bucket is full again
 * @param retryAfterMillis when refused, time until the request would pass
 */
public record LimitDecision(boolean allowed, long limit, long remaining, long resetMillis, long retryAfterMillis) {

    public static final LimitDecision UNLIMITED = new LimitDecision(true, 0, 0, 0, 0);

    public boolean limited() {
        return limit > 0;
    }
}
