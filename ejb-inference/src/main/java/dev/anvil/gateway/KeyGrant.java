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
 */
public record KeyGrant(long keyId, String prefix, String keyName, String tenant, List<String> allowedModels,
                       long requestsPerMinute, long tokensPerMinute, Long tokenBudget, BudgetPeriod budgetPeriod,
                       boolean auditText) {

    /** The audit actor of requests made with this key. */
    public String actor() {
        return "key:" + prefix;
    }

    public boolean allows(String modelName) {
        return allowedModels.contains(ApiKey.ALL_MODELS) || allowedModels.contains(modelName);
    }

    static KeyGrant of(ApiKey key, GatewayConfig config) {
        var tenant = key.tenant();
        return new KeyGrant(key.id(), key.prefix(), key.name(), tenant.name(), key.allowedModels(),
                effective(key.requestsPerMinute(), tenant.requestsPerMinute(), config.defaultRequestsPerMinute()),
                effective(key.tokensPerMinute(), tenant.tokensPerMinute(), config.defaultTokensPerMinute()),
                tenant.tokenBudget(), tenant.budgetPeriod(), tenant.auditText());
    }

    /** The key's own limit, else its tenant's, else the server default. */
    static long effective(Integer keyLimit, Integer tenantLimit, int serverDefault) {
        if (keyLimit != null) return keyLimit;
        if (tenantLimit != null) return tenantLimit;
        return serverDefault;
    }
}
