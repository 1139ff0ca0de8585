package dev.anvil.resilience;

import java.util.Locale;

/** Why a request was not answered by the model version it was routed to. */
public enum FallbackReason {
    /** The version's circuit breaker is open: it was not even tried. */
    CIRCUIT_OPEN,
    /** Its queue was full. */
    OVERLOADED,
    /** It refused the request (being unloaded, failing, not loaded in time). */
    UNAVAILABLE,
    /** Queueing the request took longer than the submission timeout. */
    TIMEOUT;

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
