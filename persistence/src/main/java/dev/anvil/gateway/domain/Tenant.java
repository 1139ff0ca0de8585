package dev.anvil.gateway.domain;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * A customer of the gateway: owns API keys and carries the settings that apply to all of them (token budget
 * per period, default rate limits, whether request/response text is audited).
 */
@Entity
@Table(name = "gateway_tenant")
public class Tenant {

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    private Long id;

    @Column(name = "name", nullable = false, length = GatewayText.MAX_NAME, updatable = false)
    private String name;

    @Column(name = "token_budget")
    private Long tokenBudget;

    @Enumerated(EnumType.STRING)
    @Column(name = "budget_period", nullable = false, length = 8)
    private BudgetPeriod budgetPeriod;

    @Column(name = "requests_per_minute")
    private Integer requestsPerMinute;

    @Column(name = "tokens_per_minute")
    private Integer tokensPerMinute;

    @Column(name = "audit_text", nullable = false)
    private boolean auditText;

    /** Requests a key of the tenant may have in progress at once, for keys that set none; null = the server default. */
    @Column(name = "max_concurrent_requests")
    private Integer maxConcurrentRequests;

    /** Whether the tenant's keys may pin model versions other than the one a name serves (STAGING, NONE). */
    @Column(name = "allow_version_pinning", nullable = false)
    private boolean allowVersionPinning;

    @Column(name = "created_at", nullable = false, updatable = false)
    private Instant createdAt;

    @Column(name = "created_by", nullable = false, length = GatewayText.MAX_ACTOR, updatable = false)
    private String createdBy;

    protected Tenant() {
        // for JPA
    }

    public Tenant(String name, String actor, Instant at) {
        this.name = GatewayText.name("name", name);
        this.budgetPeriod = BudgetPeriod.DAY;
        this.createdBy = GatewayText.actor(actor);
        this.createdAt = at.truncatedTo(ChronoUnit.MICROS);
    }

    /**
     * Replaces the settings; null budget = none, null limits (rates and concurrency) = the server defaults;
     * {@code allowVersionPinning} lets the tenant's keys pin versions that are not what a model name serves.
     */
    public void configure(
            Long tokenBudget,
            BudgetPeriod period,
            Integer requestsPerMinute,
            Integer tokensPerMinute,
            boolean auditText,
            Integer maxConcurrentRequests,
            boolean allowVersionPinning) {
        if (tokenBudget != null && tokenBudget < 0) {
            throw new InvalidGatewayFieldException("tokenBudget", "tokenBudget must be >= 0, got " + tokenBudget);
        }
        this.tokenBudget = tokenBudget;
        this.budgetPeriod = period == null ? BudgetPeriod.DAY : period;
        this.requestsPerMinute = GatewayText.limit("requestsPerMinute", requestsPerMinute);
        this.tokensPerMinute = GatewayText.limit("tokensPerMinute", tokensPerMinute);
        this.auditText = auditText;
        this.maxConcurrentRequests = GatewayText.limit("maxConcurrentRequests", maxConcurrentRequests);
        this.allowVersionPinning = allowVersionPinning;
    }

    public Long id() {
        return id;
    }

    public String name() {
        return name;
    }

    public Long tokenBudget() {
        return tokenBudget;
    }

    public BudgetPeriod budgetPeriod() {
        return budgetPeriod;
    }

    public Integer requestsPerMinute() {
        return requestsPerMinute;
    }

    public Integer tokensPerMinute() {
        return tokensPerMinute;
    }

    public boolean auditText() {
        return auditText;
    }

    public Integer maxConcurrentRequests() {
        return maxConcurrentRequests;
    }

    public boolean allowVersionPinning() {
        return allowVersionPinning;
    }

    public Instant createdAt() {
        return createdAt;
    }

    public String createdBy() {
        return createdBy;
    }
}
