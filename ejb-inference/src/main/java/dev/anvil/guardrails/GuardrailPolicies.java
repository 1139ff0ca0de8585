package dev.anvil.guardrails;

import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.eclipse.microprofile.config.Config;
import org.eclipse.microprofile.config.ConfigProvider;

/**
 * The guardrail policies, from MicroProfile Config: the server default ({@code anvil.guardrails.*}) and per tenant
 * ({@code anvil.guardrails.tenant.<name>.*}, each key falling back to the default). Read once per tenant and kept.
 * The caller names the tenant: the gateway's authenticated tenant when there is one; see {@link #tenantHeader()}.
 */
@ApplicationScoped
public class GuardrailPolicies {

    /** Name of a request header that selects a tenant policy where no authenticated tenant is known (off by default). */
    public static final String TENANT_HEADER_KEY = "anvil.guardrails.tenant-header";

    /** The server default's cache key (tenant names are never empty). */
    private static final String DEFAULT = "";

    private final Map<String, GuardrailPolicy> policies = new ConcurrentHashMap<>();
    private Config config;
    private String tenantHeader;

    @PostConstruct
    void load() {
        config = ConfigProvider.getConfig(GuardrailPolicies.class.getClassLoader());
        tenantHeader = value(TENANT_HEADER_KEY)
                .map(String::trim)
                .filter(s -> !s.isEmpty())
                .orElse(null);
    }

    private Optional<String> value(String key) {
        return config.getOptionalValue(key, String.class);
    }

    /**
     * The policy of {@code tenant}; the server default for null or blank. Read at first use and kept; a wrong value
     * is not kept, so every request under that policy is refused with the key named until it is fixed.
     *
     * @throws IllegalArgumentException if the configuration is wrong (naming the key)
     */
    public GuardrailPolicy forTenant(String tenant) {
        String key = tenant == null || tenant.isBlank() ? DEFAULT : tenant.trim();
        return policies.computeIfAbsent(key, t -> GuardrailPolicy.load(t.isEmpty() ? null : t, this::value));
    }

    /**
     * The header that names the tenant when the request carries no authenticated tenant, or null when tenants may
     * not be chosen that way ({@value #TENANT_HEADER_KEY}, unset by default). Meant for deployments behind a
     * trusted proxy that sets it, and for tests; the gateway's API-key tenant takes precedence.
     */
    public String tenantHeader() {
        return tenantHeader;
    }
}
