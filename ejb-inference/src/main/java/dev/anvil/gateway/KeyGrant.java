package dev.anvil.gateway;

import dev.anvil.gateway.domain.ApiKey;
import dev.anvil.gateway.domain.BudgetPeriod;
import java.util.List;

/**
 * What an authenticated API key may do, read once from the database and then trusted for
 * {@code anvil.gateway.key-cache-seconds}: an immutable snapshot, safe to share between request threads.
 *
 * @param requestsPerMinute effective limit (key, else tenant, else server default); 0 = unlimited
 * @param tokensPerMinute   effective limit, same fallbacks
 * @param tokenBudget       tokens per budget period of the tenant; null = no budget
 * @param maxConcurrentRequests effective limit of requests in progress at once (key, else tenant, else server
 *                          default); 0 = unlimited
 * @param allowVersionPinning whether the key may pin a version its model name does not serve (the key's flag,
 *                          else its tenant's)
 */
public record KeyGrant(
        long keyId,
        String prefix,
        String keyName,
        String tenant,
        List<String> allowedModels,
        long requestsPerMinute,
        long tokensPerMinute,
        Long tokenBudget,
        BudgetPeriod budgetPeriod,
        boolean auditText,
        long maxConcurrentRequests,
        boolean allowVersionPinning) {

    /** The audit actor of requests made with this key. */
    public String actor() {
        return "key:" + prefix;
    }

    public boolean allows(String modelName) {
        return allowedModels.contains(ApiKey.ALL_MODELS) || allowedModels.contains(modelName);
    }

    static KeyGrant of(ApiKey key, GatewayConfig config) {
        var tenant = key.tenant();
        return new KeyGrant(
                key.id(),
                key.prefix(),
                key.name(),
                tenant.name(),
                key.allowedModels(),
                effective(key.requestsPerMinute(), tenant.requestsPerMinute(), config.defaultRequestsPerMinute()),
                effective(key.tokensPerMinute(), tenant.tokensPerMinute(), config.defaultTokensPerMinute()),
                tenant.tokenBudget(),
                tenant.budgetPeriod(),
                tenant.auditText(),
                effective(
                        key.maxConcurrentRequests(),
                        tenant.maxConcurrentRequests(),
                        config.defaultMaxConcurrentRequests()),
                key.allowVersionPinning() != null ? key.allowVersionPinning() : tenant.allowVersionPinning());
    }

    /** The key's own limit, else its tenant's, else the server default. */
    static long effective(Integer keyLimit, Integer tenantLimit, int serverDefault) {
        if (keyLimit != null) return keyLimit;
        if (tenantLimit != null) return tenantLimit;
        return serverDefault;
    }
}
