package dev.anvil.api.gateway;

import dev.anvil.api.ApiErrors;
import dev.anvil.gateway.GatewayGuard;
import dev.anvil.gateway.LimitDecision;
import jakarta.ws.rs.core.Response;

/** The gateway's error answers and rate-limit headers, in OpenAI's shapes and names. */
final class GatewayErrors {

    /** OpenAI's type and code for an exhausted quota. */
    static final String INSUFFICIENT_QUOTA = "insufficient_quota";

    private GatewayErrors() {}

    /** 429 for a refused admission, with Retry-After and the x-ratelimit-* headers. */
    static Response refused(GatewayGuard.Admission admission, String tenant) {
        Response.ResponseBuilder builder;
        long retryAfterMs;
        switch (admission.refusal()) {
            case BUDGET -> {
                retryAfterMs = Math.max(0, admission.budgetResetsAt().toEpochMilli() - System.currentTimeMillis());
                builder = Response.fromResponse(ApiErrors.response(
                        429,
                        INSUFFICIENT_QUOTA,
                        "tenant '" + tenant
                                + "' has used its token budget for this period (resets at " + admission.budgetResetsAt()
                                + "); ask an administrator to raise tokenBudget",
                        null,
                        INSUFFICIENT_QUOTA));
            }
            case TOKENS_PER_MINUTE -> {
                retryAfterMs = admission.tokens().retryAfterMillis();
                builder = rateLimited("tokens per minute (TPM)", admission.tokens());
            }
            case REQUESTS_PER_MINUTE -> {
                retryAfterMs = admission.requests().retryAfterMillis();
                builder = rateLimited("requests per minute (RPM)", admission.requests());
            }
            default -> throw new IllegalArgumentException("admitted requests are not refused");
        }
        builder.header("Retry-After", seconds(retryAfterMs));
        addLimitHeaders(builder::header, admission);
        return builder.build();
    }

    /** The code of a refusal for too many requests of one key in progress at once. */
    static final String CONCURRENT_REQUESTS_EXCEEDED = "concurrent_requests_exceeded";

    /**
     * 429 for a key that has its limit of concurrent requests in progress: {@code Retry-After: 1} (a slot frees as
     * soon as one of them is answered), the limit and what is left in {@code x-ratelimit-*-concurrent-requests}, and
     * the key's other limit headers.
     */
    static Response tooManyConcurrent(
            dev.anvil.gateway.KeyGrant key, int inProgress, GatewayGuard.Admission admission) {
        Response.ResponseBuilder builder = Response.fromResponse(ApiErrors.response(
                429,
                ApiErrors.TYPE_RATE_LIMIT,
                "the API key " + key.prefix() + "... has " + inProgress
                        + " requests in progress, its limit of concurrent requests (" + key.maxConcurrentRequests()
                        + ", maxConcurrentRequests); send the next one when one of them is answered",
                null,
                CONCURRENT_REQUESTS_EXCEEDED));
        builder.header("Retry-After", 1);
        builder.header("x-ratelimit-limit-concurrent-requests", key.maxConcurrentRequests());
        builder.header("x-ratelimit-remaining-concurrent-requests", 0);
        addLimitHeaders(builder::header, admission);
        return builder.build();
    }

    interface HeaderSink {
        void header(String name, Object value);
    }

    /** OpenAI's x-ratelimit-{limit,remaining,reset}-{requests,tokens} for the limits that apply to the key. */
    static void addLimitHeaders(HeaderSink sink, GatewayGuard.Admission admission) {
        if (admission == null) {
            return;
        }
        LimitDecision r = admission.requests();
        if (r != null && r.limited()) {
            sink.header("x-ratelimit-limit-requests", r.limit());
            sink.header("x-ratelimit-remaining-requests", r.remaining());
            sink.header("x-ratelimit-reset-requests", duration(r.resetMillis()));
        }
        LimitDecision t = admission.tokens();
        if (t != null && t.limited()) {
            sink.header("x-ratelimit-limit-tokens", t.limit());
            sink.header("x-ratelimit-remaining-tokens", t.remaining());
            sink.header("x-ratelimit-reset-tokens", duration(t.resetMillis()));
        }
    }

    /** Whole seconds, rounded up, at least 1 (Retry-After). */
    static long seconds(long millis) {
        return Math.max(1, (millis + 999) / 1000);
    }

    /** OpenAI's reset format: "1s", "6m0s", "250ms". */
    static String duration(long millis) {
        if (millis < 1000) {
            return millis + "ms";
        }
        long totalSeconds = (millis + 999) / 1000;
        long minutes = totalSeconds / 60;
        long secs = totalSeconds % 60;
        return minutes > 0 ? minutes + "m" + secs + "s" : secs + "s";
    }

    /** 429 rate_limit_exceeded for the bucket {@code which} that refused, with its limit and when to retry. */
    private static Response.ResponseBuilder rateLimited(String which, LimitDecision decision) {
        return Response.fromResponse(ApiErrors.response(
                429,
                ApiErrors.TYPE_RATE_LIMIT,
                "rate limit reached on " + which + ": limit " + decision.limit() + "; please try again in "
                        + seconds(decision.retryAfterMillis()) + "s",
                null,
                "rate_limit_exceeded"));
    }
}
