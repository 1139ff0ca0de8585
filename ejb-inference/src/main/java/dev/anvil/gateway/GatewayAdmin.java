package dev.anvil.gateway;

import dev.anvil.gateway.domain.ApiKey;
import dev.anvil.gateway.domain.BudgetPeriod;
import dev.anvil.gateway.domain.InvalidGatewayFieldException;
import dev.anvil.gateway.domain.Tenant;
import dev.anvil.security.Callers;
import dev.anvil.security.Roles;
import dev.anvil.service.ServiceException.Kind;
import jakarta.annotation.Resource;
import jakarta.annotation.security.PermitAll;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ejb.EJB;
import jakarta.ejb.SessionContext;
import jakarta.ejb.Stateless;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.persistence.PersistenceContext;
import java.time.Instant;
import java.util.List;

/**
 * Tenants and API keys: the transactional side of the gateway's admin API. Each change is audited with its
 * actor (the caller's authenticated principal); a new key's secret is returned once ({@link CreatedKey}) and only
 * its SHA-256 is stored. Everything here is for {@link Roles#ADMIN} but {@link #grantFor}, the key lookup of every
 * {@code /v1} request.
 */
@Stateless
@RolesAllowed(Roles.ADMIN)
public class GatewayAdmin {

    @PersistenceContext(unitName = "anvil")
    EntityManager em;

    @Resource
    SessionContext session;

    @Inject
    GatewayConfig config;

    @Inject
    KeyAuthenticator authenticator;

    @EJB
    GatewayLedger ledger;

    /** A created key with its secret, the only time the secret exists outside the client. */
    public record CreatedKey(ApiKey key, String secret) {}

    /** A tenant's settings as the admin API sends them (null limits: the server defaults). */
    public record TenantSettings(
            Long tokenBudget,
            String budgetPeriod,
            Integer requestsPerMinute,
            Integer tokensPerMinute,
            boolean auditText,
            Integer maxConcurrentRequests,
            boolean allowVersionPinning) {}

    /** A new key's settings (null limits: the tenant's, then the server defaults; null pinning: the tenant's). */
    public record KeySettings(
            List<String> allowedModels,
            Integer requestsPerMinute,
            Integer tokensPerMinute,
            Integer maxConcurrentRequests,
            Boolean allowVersionPinning) {}

    public Tenant createTenant(String name, TenantSettings settings) {
        String actor = Callers.actor(session);
        Tenant tenant = validated(() -> {
            Tenant t = new Tenant(name, actor, Instant.now());
            configure(t, settings);
            return t;
        });
        if (findTenant(tenant.name()) != null) {
            throw new GatewayException(
                    Kind.CONFLICT, "tenant '" + tenant.name() + "' already exists", "name", "tenant_exists");
        }
        em.persist(tenant);
        ledger.audit(actor, tenant.name(), "tenant.create", "tenant/" + tenant.name(), null, settings(tenant));
        return tenant;
    }

    public Tenant updateTenant(String name, TenantSettings settings) {
        String actor = Callers.actor(session);
        Tenant tenant = tenant(name);
        validated(() -> {
            configure(tenant, settings);
            return tenant;
        });
        authenticator.forgetAll();
        ledger.audit(actor, tenant.name(), "tenant.update", "tenant/" + tenant.name(), null, settings(tenant));
        return tenant;
    }

    public List<Tenant> tenants() {
        return em.createQuery("select t from Tenant t order by t.name", Tenant.class)
                .getResultList();
    }

    public Tenant tenant(String name) {
        Tenant tenant = findTenant(name);
        if (tenant == null) {
            throw new GatewayException(
                    Kind.NOT_FOUND,
                    "no tenant '" + name + "' (create it with POST /api/gateway/tenants)",
                    "tenant",
                    "tenant_not_found");
        }
        return tenant;
    }

    public CreatedKey createKey(String tenantName, String keyName, KeySettings settings) {
        String actor = Callers.actor(session);
        Tenant tenant = tenant(tenantName);
        String secret = KeySecrets.generate();
        ApiKey key = validated(() -> new ApiKey(
                tenant,
                keyName,
                KeySecrets.visiblePrefix(secret),
                KeySecrets.sha256(secret),
                settings.allowedModels(),
                settings.requestsPerMinute(),
                settings.tokensPerMinute(),
                settings.maxConcurrentRequests(),
                settings.allowVersionPinning(),
                actor,
                Instant.now()));
        boolean duplicate = !em.createQuery(
                        "select k.id from ApiKey k where k.tenant = :tenant and k.name = :name", Long.class)
                .setParameter("tenant", tenant)
                .setParameter("name", key.name())
                .getResultList()
                .isEmpty();
        if (duplicate) {
            throw new GatewayException(
                    Kind.CONFLICT,
                    "tenant '" + tenant.name() + "' already has a key named '" + key.name() + "'",
                    "name",
                    "key_exists");
        }
        em.persist(key);
        em.flush(); // the id, for the response and the audit row
        ledger.audit(
                actor,
                tenant.name(),
                "key.create",
                "key/" + key.id(),
                null,
                "name=" + key.name() + " prefix=" + key.prefix() + " models=" + String.join(",", key.allowedModels())
                        + " rpm=" + key.requestsPerMinute() + " tpm=" + key.tokensPerMinute() + " concurrent="
                        + key.maxConcurrentRequests()
                        + " versionPinning=" + key.allowVersionPinning());
        return new CreatedKey(key, secret);
    }

    public List<ApiKey> keys(String tenantName) {
        return em.createNamedQuery(ApiKey.OF_TENANT, ApiKey.class)
                .setParameter("tenant", tenant(tenantName))
                .getResultList();
    }

    public ApiKey revokeKey(long keyId) {
        String actor = Callers.actor(session);
        ApiKey key = em.find(ApiKey.class, keyId);
        if (key == null) {
            throw new GatewayException(Kind.NOT_FOUND, "no API key with id " + keyId, "id", "key_not_found");
        }
        if (key.revoked()) {
            throw new GatewayException(
                    Kind.CONFLICT,
                    "key " + key.prefix() + " was already revoked at " + key.revokedAt() + " by " + key.revokedBy(),
                    "id",
                    "key_revoked");
        }
        key.revoke(actor, Instant.now());
        authenticator.forget(key.secretSha256());
        ledger.audit(actor, key.tenant().name(), "key.revoke", "key/" + key.id(), null, "prefix=" + key.prefix());
        return key;
    }

    /** The key with this secret hash if it exists and is not revoked (the authenticator's database read). */
    @PermitAll
    public KeyGrant grantFor(String secretSha256) {
        List<ApiKey> keys = em.createNamedQuery(ApiKey.BY_HASH, ApiKey.class)
                .setParameter("hash", secretSha256)
                .getResultList();
        if (keys.isEmpty() || keys.getFirst().revoked()) {
            return null;
        }
        return KeyGrant.of(keys.getFirst(), config);
    }

    /**
     * The key with this id if it exists and is not revoked: the batch jobs' lookup of the key a batch was created with,
     * whose lines are billed to it (null for a revoked or deleted key: the lines then fail).
     */
    @PermitAll
    public KeyGrant grantForKeyId(long keyId) {
        ApiKey key = em.find(ApiKey.class, keyId);
        if (key == null || key.revoked()) {
            return null;
        }
        return KeyGrant.of(key, config);
    }

    private Tenant findTenant(String name) {
        List<Tenant> found = em.createQuery("select t from Tenant t where t.name = :name", Tenant.class)
                .setParameter("name", name == null ? "" : name.strip())
                .getResultList();
        return found.isEmpty() ? null : found.getFirst();
    }

    private static void configure(Tenant t, TenantSettings s) {
        t.configure(
                s.tokenBudget(),
                BudgetPeriod.parse(s.budgetPeriod()),
                s.requestsPerMinute(),
                s.tokensPerMinute(),
                s.auditText(),
                s.maxConcurrentRequests(),
                s.allowVersionPinning());
    }

    private static String settings(Tenant t) {
        return "tokenBudget=" + t.tokenBudget() + " period=" + t.budgetPeriod() + " rpm=" + t.requestsPerMinute()
                + " tpm=" + t.tokensPerMinute() + " auditText=" + t.auditText() + " concurrent="
                + t.maxConcurrentRequests()
                + " versionPinning=" + t.allowVersionPinning();
    }

    private static <T> T validated(java.util.function.Supplier<T> action) {
        try {
            return action.get();
        } catch (InvalidGatewayFieldException e) {
            throw new GatewayException(Kind.BAD_REQUEST, e.getMessage(), e.field(), "invalid_" + e.field());
        }
    }
}
