package dev.anvil.gateway;

import dev.anvil.metrics.MetricMetadata;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.math.BigDecimal;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.DoubleAdder;
import org.eclipse.microprofile.metrics.Metadata;
import org.eclipse.microprofile.metrics.MetricRegistry;
import org.eclipse.microprofile.metrics.MetricUnits;
import org.eclipse.microprofile.metrics.Tag;

/**
 * What the gateway's usage rows say, as metrics, so that a dashboard shows usage by tenant without querying the
 * database (the rows stay the record: these reset when the server restarts):
 * <ul>
 *   <li>{@code anvil_gateway_requests_total{tenant, model, outcome}}: settled generation requests (ok, error,
 *       cancelled)</li>
 *   <li>{@code anvil_gateway_tokens_total{tenant, model, kind}}: their prompt and completion tokens</li>
 *   <li>{@code anvil_gateway_cost{tenant, model}}: the cost charged since start, in the unit of
 *       {@code anvil.gateway.price.*} (a gauge: MicroProfile counters count whole units only)</li>
 * </ul>
 * {@code tenant} is {@value #ANONYMOUS} for requests without an API key (no tenant name can start with '_');
 * {@code model} is the model name that answered (versions are left out to bound the series per tenant).
 */
@ApplicationScoped
public class GatewayMetrics {

    static final String ANONYMOUS = "_anonymous";
    static final String REQUESTS = "anvil.gateway.requests";
    static final String TOKENS = "anvil.gateway.tokens";
    static final String COST = "anvil.gateway.cost";

    private static final Metadata REQUESTS_MD = MetricMetadata.of(
            REQUESTS, "Generation requests settled by the gateway, by tenant, model and outcome", MetricUnits.NONE);
    private static final Metadata TOKENS_MD = MetricMetadata.of(
            TOKENS, "Tokens of settled requests by tenant, model and kind (prompt, completion)", MetricUnits.NONE);
    private static final Metadata COST_MD = MetricMetadata.of(
            COST, "Cost charged since start by tenant and model (unit of anvil.gateway.price.*)", MetricUnits.NONE);

    @Inject
    MetricRegistry registry;

    private final Map<String, DoubleAdder> costs = new ConcurrentHashMap<>();

    /** One settled request's row. */
    void settled(UsageEntry usage) {
        String tenant = usage.tenant() == null ? ANONYMOUS : usage.tenant();
        String model = usage.model();
        registry.counter(
                        REQUESTS_MD,
                        new Tag("tenant", tenant),
                        new Tag("model", model),
                        new Tag("outcome", usage.outcome()))
                .inc();
        if (usage.promptTokens() > 0) {
            registry.counter(TOKENS_MD, new Tag("tenant", tenant), new Tag("model", model), new Tag("kind", "prompt"))
                    .inc(usage.promptTokens());
        }
        if (usage.completionTokens() > 0) {
            registry.counter(
                            TOKENS_MD,
                            new Tag("tenant", tenant),
                            new Tag("model", model),
                            new Tag("kind", "completion"))
                    .inc(usage.completionTokens());
        }
        BigDecimal cost = usage.cost();
        costs.computeIfAbsent(tenant + '\n' + model, k -> {
                    DoubleAdder adder = new DoubleAdder();
                    registry.gauge(
                            COST_MD, adder, DoubleAdder::sum, new Tag("tenant", tenant), new Tag("model", model));
                    return adder;
                })
                .add(cost == null ? 0 : cost.doubleValue());
    }
}
