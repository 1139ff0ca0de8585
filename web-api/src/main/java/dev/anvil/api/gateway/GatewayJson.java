package dev.anvil.api.gateway;

import dev.anvil.gateway.UsageReport;
import dev.anvil.gateway.domain.ApiKey;
import dev.anvil.gateway.domain.Tenant;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

/** Request and response bodies of the gateway admin API. */
public final class GatewayJson {

    private GatewayJson() {}

    static final String MAX_CONCURRENT =
            "Requests a key may have in progress at once (per server node; a generation counts until"
                    + " its answer is written); beyond it 429 concurrent_requests_exceeded. null = the server default"
                    + " (anvil.gateway.default-max-concurrent-requests), 0 = unlimited";
    static final String VERSION_PINNING =
            "Whether requests may pin model versions their name does not serve (STAGING, NONE,"
                    + " older versions) with model 'name@version'; otherwise such a pin is a 403 version_pin_not_allowed";

    @Schema(
            name = "TenantRequest",
            description = "Creates or reconfigures a tenant; null limits fall back to the server defaults")
    public record TenantRequest(
            @Schema(examples = "acme") String name,

            @Schema(description = "Tokens (prompt + completion) per budget period; null = no budget")
            Long tokenBudget,

            @Schema(description = "DAY or MONTH (UTC); default DAY")
            String budgetPeriod,

            Integer requestsPerMinute,
            Integer tokensPerMinute,

            @Schema(description = "Record request and response text in the audit log")
            Boolean auditText,

            @Schema(description = "Default for the tenant's keys. " + MAX_CONCURRENT)
            Integer maxConcurrentRequests,

            @Schema(description = "For every key of the tenant (default false). " + VERSION_PINNING)
            Boolean allowVersionPinning) {}

    @Schema(name = "Tenant")
    public record TenantJson(
            String name,
            Long tokenBudget,
            String budgetPeriod,
            Integer requestsPerMinute,
            Integer tokensPerMinute,
            boolean auditText,
            @Schema(description = MAX_CONCURRENT) Integer maxConcurrentRequests,
            @Schema(description = VERSION_PINNING) boolean allowVersionPinning,
            Instant createdAt,
            String createdBy) {
        static TenantJson of(Tenant t) {
            return new TenantJson(
                    t.name(),
                    t.tokenBudget(),
                    t.budgetPeriod().name(),
                    t.requestsPerMinute(),
                    t.tokensPerMinute(),
                    t.auditText(),
                    t.maxConcurrentRequests(),
                    t.allowVersionPinning(),
                    t.createdAt(),
                    t.createdBy());
        }
    }

    public record Tenants(List<TenantJson> data) {}

    @Schema(name = "KeyRequest", description = "Creates an API key of a tenant")
    public record KeyRequest(
            @Schema(examples = "backend") String name,

            @Schema(description = "Model names the key may call; omitted or [\"*\"] = all")
            List<String> allowedModels,

            Integer requestsPerMinute,
            Integer tokensPerMinute,

            @Schema(description = MAX_CONCURRENT + "; null here = the tenant's setting first")
            Integer maxConcurrentRequests,

            @Schema(description = VERSION_PINNING + "; null = the tenant's setting")
            Boolean allowVersionPinning) {}

    @Schema(name = "ApiKey", description = "An API key; `key` (the secret) is only present in the creation response")
    public record KeyJson(
            long id,
            String tenant,
            String name,
            String prefix,
            List<String> allowedModels,
            Integer requestsPerMinute,
            Integer tokensPerMinute,

            @Schema(nullable = true, description = MAX_CONCURRENT)
            Integer maxConcurrentRequests,

            @Schema(nullable = true, description = VERSION_PINNING + "; null = the tenant's setting")
            Boolean allowVersionPinning,

            Instant createdAt,
            String createdBy,
            Instant revokedAt,
            String revokedBy,
            @Schema(nullable = true) String key) {
        static KeyJson of(ApiKey k, String secret) {
            return new KeyJson(
                    k.id(),
                    k.tenant().name(),
                    k.name(),
                    k.prefix(),
                    k.allowedModels(),
                    k.requestsPerMinute(),
                    k.tokensPerMinute(),
                    k.maxConcurrentRequests(),
                    k.allowVersionPinning(),
                    k.createdAt(),
                    k.createdBy(),
                    k.revokedAt(),
                    k.revokedBy(),
                    secret);
        }
    }

    public record Keys(List<KeyJson> data) {}

    @Schema(
            name = "UsageLine",
            description = "A tenant's use of a model on one UTC day; tenant null = anonymous requests")
    public record UsageLine(
            LocalDate day,
            String tenant,
            String model,
            long requests,
            long promptTokens,
            long completionTokens,
            long totalTokens,
            BigDecimal cost) {
        static UsageLine of(UsageReport.Line l) {
            return new UsageLine(
                    l.day(),
                    l.tenant(),
                    l.model(),
                    l.requests(),
                    l.promptTokens(),
                    l.completionTokens(),
                    l.promptTokens() + l.completionTokens(),
                    l.cost());
        }
    }

    /**
     * @param routers per cost-aware router: its requests, escalations, cost and the savings against sending
     *                every request to its largest candidate
     */
    public record Usage(LocalDate from, LocalDate to, List<UsageLine> data, List<RouterSavings> routers) {}

    @Schema(name = "RouterSavings")
    public record RouterSavings(
            String router,
            long requests,
            long escalations,
            BigDecimal cost,
            BigDecimal baselineCost,
            BigDecimal savings) {
        static RouterSavings of(UsageReport.RouterLine l) {
            return new RouterSavings(
                    l.router(), l.requests(), l.escalations(), l.cost(), l.baselineCost(), l.savings());
        }
    }

    @Schema(name = "AuditRow")
    public record AuditJson(
            long id,
            Instant occurredAt,
            String actor,
            String tenant,
            String action,
            String target,
            Integer status,
            String detail,
            String requestText,
            String responseText,
            String traceId) {
        static AuditJson of(UsageReport.AuditRow a) {
            return new AuditJson(
                    a.id(),
                    a.occurredAt(),
                    a.actor(),
                    a.tenant(),
                    a.action(),
                    a.target(),
                    a.status(),
                    a.detail(),
                    a.requestText(),
                    a.responseText(),
                    a.traceId());
        }
    }

    public record Audit(List<AuditJson> data) {}
}
