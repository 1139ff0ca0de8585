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

    private final Map<String, GuardrailPolicy> tenants = new ConcurrentHashMap<>();
    private Config config;
    private GuardrailPolicy serverDefault;
    private String tenantHeader;

    @PostConstruct
    void load() {
        config = ConfigProvider.getConfig(GuardrailPolicies.class.getClassLoader());
        // Fails the deployment on a bad default: better than discovering it at the first request.
        serverDefault = GuardrailPolicy.load(null, this::value);
        tenantHeader = value(TENANT_HEADER_KEY).map(String::trim).filter(s -> !s.isEmpty()).orElse(null);
    }

    private Optional<String> value(String key) {
        return config.getOptionalValue(key, String.class);
    }

    public GuardrailPolicy serverDefault() {
        return serverDefault;
    }

    /**
     * The policy of {@code tenant}; the server default for null or blank.
     *
     * @throws IllegalArgumentException if the tenant's configuration is wrong (naming the key)
     */
    public GuardrailPolicy forTenant(String tenant) {
        if (tenant == null || tenant.isBlank()) return serverDefault;
        return tenants.computeIfAbsent(tenant.trim(), t -> GuardrailPolicy.load(t, this::value));
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
