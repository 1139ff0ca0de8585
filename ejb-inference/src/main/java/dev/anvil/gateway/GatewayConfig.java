package dev.anvil.gateway;

import jakarta.annotation.Resource;
import jakarta.enterprise.concurrent.ManagedScheduledExecutorService;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.event.Startup;
import jakarta.inject.Inject;
import java.math.BigDecimal;
import java.net.InetAddress;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.eclipse.microprofile.config.Config;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Every gateway setting (MicroProfile Config keys, defaults here), listed in docs/CONFIGURATION.md.
 * Prices are looked up per model name: {@code anvil.gateway.price.<model>.prompt} and {@code .completion}
 * are the cost of 1000 prompt / completion tokens, falling back to {@code anvil.gateway.price.default.*}.
 */
@ApplicationScoped
public class GatewayConfig {

    private static final java.util.logging.Logger LOG =
            java.util.logging.Logger.getLogger(GatewayConfig.class.getName());
    public static final String REQUIRE_API_KEY = "anvil.gateway.require-api-key";
    public static final String DEFAULT_MAX_CONCURRENT_REQUESTS = "anvil.gateway.default-max-concurrent-requests";
    static final String PRICE_PREFIX = "anvil.gateway.price.";
    private static final BigDecimal THOUSAND = BigDecimal.valueOf(1000);

    /** auto: keys required unless the API listens on loopback only; true: always; false: never ({@link ApiKeyRequirement}). */
    @Inject
    @ConfigProperty(name = REQUIRE_API_KEY, defaultValue = "auto")
    String requireApiKey;

    /** Decided once the listening addresses are known: neither they nor the setting change while the server runs. */
    private final AtomicReference<ApiKeyRequirement> keyRequirement = new AtomicReference<>();

    @Resource
    ManagedScheduledExecutorService scheduler;

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

    /** Whether /v1 callers need an API key (see {@link ApiKeyRequirement}). */
    public boolean requireApiKey() {
        return keyRequirement().required();
    }

    /**
     * The decision, made when the listening addresses can first be read (the management model answers once the server
     * has booted). Until then it fails closed: keys are required.
     */
    public ApiKeyRequirement keyRequirement() {
        ApiKeyRequirement decided = keyRequirement.get();
        if (decided != null) return decided;
        List<InetAddress> listening = ListeningAddresses.ofApi();
        ApiKeyRequirement now = ApiKeyRequirement.decide(requireApiKey, listening);
        if (!listening.isEmpty() && keyRequirement.compareAndSet(null, now)) {
            LOG.info(() ->
                    "API keys are " + (now.required() ? "required" : "optional") + " on /v1: " + now.explanation());
            if (now.warning() != null) LOG.warning(now.warning());
        }
        return now;
    }

    /**
     * Decides as soon as the server has booted, so that the log says at once whether anonymous callers are served (and
     * warns when they should not be), not at the first request.
     */
    void decideKeyRequirementAfterBoot(@Observes Startup startup) {
        AtomicReference<ScheduledFuture<?>> poll = new AtomicReference<>();
        java.util.concurrent.atomic.AtomicInteger attempts = new java.util.concurrent.atomic.AtomicInteger();
        poll.set(scheduler.scheduleWithFixedDelay(
                () -> {
                    keyRequirement();
                    // Decided, or the model stayed unreadable for ten minutes (requests keep trying, failing closed
                    // meanwhile).
                    if ((keyRequirement.get() != null || attempts.incrementAndGet() >= 600) && poll.get() != null)
                        poll.get().cancel(false);
                },
                1,
                1,
                TimeUnit.SECONDS));
    }

    public int defaultRequestsPerMinute() {
        return defaultRequestsPerMinute;
    }

    public int defaultTokensPerMinute() {
        return defaultTokensPerMinute;
    }

    public int defaultMaxConcurrentRequests() {
        return defaultMaxConcurrentRequests;
    }

    public int keyCacheSeconds() {
        return keyCacheSeconds;
    }

    public int ledgerBatchSize() {
        return ledgerBatchSize;
    }

    public int ledgerMaxPending() {
        return ledgerMaxPending;
    }

    /** Prices per 1000 tokens by "model.kind", read from the config on first use. */
    private final java.util.concurrent.ConcurrentHashMap<String, BigDecimal> prices =
            new java.util.concurrent.ConcurrentHashMap<>();

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
        return Pricing.cost(
                pricePer1k(model, "prompt"), pricePer1k(model, "completion"), promptTokens, completionTokens);
    }

    /** The arithmetic of {@link #cost}, apart so it can be tested without a container. */
    static final class Pricing {
        private Pricing() {}

        static BigDecimal cost(
                BigDecimal promptPer1k, BigDecimal completionPer1k, int promptTokens, int completionTokens) {
            BigDecimal prompt = promptPer1k.multiply(BigDecimal.valueOf(promptTokens));
            BigDecimal completion = completionPer1k.multiply(BigDecimal.valueOf(completionTokens));
            return prompt.add(completion).divide(THOUSAND).setScale(9, java.math.RoundingMode.HALF_UP);
        }
    }
}
