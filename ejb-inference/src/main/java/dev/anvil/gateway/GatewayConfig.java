package dev.anvil.gateway;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.math.BigDecimal;
import java.util.Optional;
import org.eclipse.microprofile.config.Config;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Every gateway setting (MicroProfile Config keys, defaults here), documented in the README's Configuration.
 * Prices are looked up per model name: {@code anvil.gateway.price.<model>.prompt} and {@code .completion}
 * are the cost of 1000 prompt / completion tokens, falling back to {@code anvil.gateway.price.default.*}.
 */
@ApplicationScoped
public class GatewayConfig {

    public static final String REQUIRE_API_KEY = "anvil.gateway.require-api-key";
    public static final String DEFAULT_MAX_CONCURRENT_REQUESTS = "anvil.gateway.default-max-concurrent-requests";
    static final String PRICE_PREFIX = "anvil.gateway.price.";
    private static final BigDecimal THOUSAND = BigDecimal.valueOf(1000);

    /** false: requests without a key are served anonymously (the Quick start); true: /v1 needs a valid key. */
    @Inject
    @ConfigProperty(name = REQUIRE_API_KEY, defaultValue = "false")
    boolean requireApiKey;

    /** Requests per minute of a key whose key and tenant set none; 0 = unlimited. */
    @Inject
    @ConfigProperty(name = "anvil.gateway.default-requests-per-minute", defaultValue = "0")
    int defaultRequestsPerMinute;

    /** Tokens (prompt + completion) per minute of a key whose key and tenant set none; 0 = unlimited. */
    @Inject
    @ConfigProperty(name = "anvil.gateway.default-tokens-per-minute", defaultValue = "0")
    int defaultTokensPerMinute;

    /**
     * Requests a key may have in progress at once (per server node) when neither the key nor its tenant sets a
     * limit; 0 = unlimited. A generation counts from admission until its answer is written (a stream: its last event).
     */
    @Inject
    @ConfigProperty(name = DEFAULT_MAX_CONCURRENT_REQUESTS, defaultValue = "64")
    int defaultMaxConcurrentRequests;

    /** How long a node trusts a key it authenticated before reading it again (revocation on another node takes that long). */
    @Inject
    @ConfigProperty(name = "anvil.gateway.key-cache-seconds", defaultValue = "5")
    int keyCacheSeconds;

    /** Most usage/audit rows written in one batch (one JDBC batch, one transaction). */
    @Inject
    @ConfigProperty(name = "anvil.gateway.ledger.batch-size", defaultValue = "500")
    int ledgerBatchSize;

    /** Rows waiting to be written beyond which new ones are dropped (and counted) rather than exhaust the heap. */
    @Inject
    @ConfigProperty(name = "anvil.gateway.ledger.max-pending", defaultValue = "100000")
    int ledgerMaxPending;

    @Inject
    Config config;

    public boolean requireApiKey() { return requireApiKey; }
    public int defaultRequestsPerMinute() { return defaultRequestsPerMinute; }
    public int defaultTokensPerMinute() { return defaultTokensPerMinute; }
    public int defaultMaxConcurrentRequests() { return defaultMaxConcurrentRequests; }
    public int keyCacheSeconds() { return keyCacheSeconds; }
    public int ledgerBatchSize() { return ledgerBatchSize; }
    public int ledgerMaxPending() { return ledgerMaxPending; }

    /** Prices per 1000 tokens by "model.kind", read from the config on first use. */
    private final java.util.concurrent.ConcurrentHashMap<String, BigDecimal> prices = new java.util.concurrent.ConcurrentHashMap<>();

    /** The price of 1000 tokens of {@code kind} ("prompt" or "completion") for {@code model}. */
    public BigDecimal pricePer1k(String model, String kind) {
        // Read once per model and kind: prices are deployment configuration, and a Config lookup with a BigDecimal
        // conversion on every request was a visible share of the gateway's per-request time.
        return prices.computeIfAbsent(model + "." + kind, key -> {
            Optional<BigDecimal> specific = config.getOptionalValue(PRICE_PREFIX + key, BigDecimal.class);
            return specific.orElseGet(() -> config.getOptionalValue(PRICE_PREFIX + "default." + kind, BigDecimal.class)
                    .orElse(BigDecimal.ZERO));
        });
    }

    /** What a request costs: tokens times the model's prices per 1000. */
    public BigDecimal cost(String model, int promptTokens, int completionTokens) {
        return Pricing.cost(pricePer1k(model, "prompt"), pricePer1k(model, "completion"), promptTokens, completionTokens);
    }

    /** The arithmetic of {@link #cost}, apart so it can be tested without a container. */
    static final class Pricing {
        private Pricing() {
        }

        static BigDecimal cost(BigDecimal promptPer1k, BigDecimal completionPer1k, int promptTokens, int completionTokens) {
            BigDecimal prompt = promptPer1k.multiply(BigDecimal.valueOf(promptTokens));
            BigDecimal completion = completionPer1k.multiply(BigDecimal.valueOf(completionTokens));
            return prompt.add(completion).divide(THOUSAND).setScale(9, java.math.RoundingMode.HALF_UP);
        }
    }
}
