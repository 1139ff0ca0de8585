package dev.anvil.routing;

import dev.anvil.metrics.MetricMetadata;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.math.BigDecimal;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.DoubleAdder;
import org.eclipse.microprofile.metrics.Metadata;
import org.eclipse.microprofile.metrics.MetricRegistry;
import org.eclipse.microprofile.metrics.MetricUnits;
import org.eclipse.microprofile.metrics.Tag;

/**
 * Cost-aware routing in {@code /metrics}:
 * <ul>
 *   <li>{@code anvil_router_requests_total{router,model,reason}}: requests each router sent to each model, and why
 *       ({@link RouteRules}'s reasons; {@code escalated_<check>} for a cascade's second attempt)</li>
 *   <li>{@code anvil_router_escalations_total{router,check}}: cascades answered again by the larger model</li>
 *   <li>{@code anvil_router_savings{router}}: the gateway cost saved since start against sending every request to
 *       the router's largest candidate (baseline minus actual, every attempt counted; negative when escalations
 *       cost more than they saved)</li>
 * </ul>
 */
@ApplicationScoped
public class RouterMetrics {

    static final Metadata REQUESTS =
            MetricMetadata.of("anvil.router.requests", "Requests a router sent to a model", MetricUnits.NONE);
    static final Metadata ESCALATIONS = MetricMetadata.of(
            "anvil.router.escalations", "Cascades answered again by the larger model", MetricUnits.NONE);
    static final Metadata SAVINGS = MetricMetadata.of(
            "anvil.router.savings", "Cost saved against sending everything to the largest candidate", MetricUnits.NONE);

    @Inject
    MetricRegistry registry;

    private final ConcurrentHashMap<String, DoubleAdder> savings = new ConcurrentHashMap<>();

    public void routed(String router, String model, String reason) {
        registry.counter(REQUESTS, new Tag("router", router), new Tag("model", model), new Tag("reason", reason))
                .inc();
    }

    public void escalated(String router, String check) {
        registry.counter(ESCALATIONS, new Tag("router", router), new Tag("check", check))
                .inc();
    }

    public void saved(String router, BigDecimal amount) {
        savings.computeIfAbsent(router, r -> {
                    DoubleAdder total = new DoubleAdder();
                    registry.gauge(SAVINGS, total, DoubleAdder::sum, new Tag("router", r));
                    return total;
                })
                .add(amount.doubleValue());
    }
}
