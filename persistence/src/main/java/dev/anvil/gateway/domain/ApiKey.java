package dev.anvil.gateway.domain;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.FetchType;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.ManyToOne;
import jakarta.persistence.NamedQuery;
import jakarta.persistence.Table;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * An API key of a tenant. Only the SHA-256 of the secret is stored (the secret is shown once, at creation),
 * with a short visible prefix to tell keys apart. A key is scoped to a list of model names ({@code *} = all)
 * and may override its tenant's rate limits. Revocation is permanent.
 */
@Entity
@Table(name = "gateway_api_key")
@NamedQuery(name = ApiKey.BY_HASH, query = "select k from ApiKey k join fetch k.tenant where k.secretSha256 = :hash")
@NamedQuery(name = ApiKey.OF_TENANT, query = "select k from ApiKey k where k.tenant = :tenant order by k.id")
public class ApiKey {

    public static final String BY_HASH = "ApiKey.byHash";
    public static final String OF_TENANT = "ApiKey.ofTenant";
    public static final String ALL_MODELS = "*";
    private static final Pattern SHA256_HEX = Pattern.compile("[0-9a-f]{64}");
    private static final Pattern MODEL = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    private Long id;

    @ManyToOne(fetch = FetchType.LAZY, optional = false)
    @JoinColumn(name = "tenant_id", nullable = false, updatable = false)
    private Tenant tenant;

    @Column(name = "name", nullable = false, length = GatewayText.MAX_NAME, updatable = false)
    private String name;

    @Column(name = "prefix", nullable = false, length = 16, updatable = false)
    private String prefix;

    @Column(name = "secret_sha256", nullable = false, length = 64, updatable = false)
    private String secretSha256;

    @Column(name = "allowed_models", nullable = false, length = GatewayText.MAX_ALLOWED_MODELS, updatable = false)
    private String allowedModels;

    @Column(name = "requests_per_minute", updatable = false)
    private Integer requestsPerMinute;

    @Column(name = "tokens_per_minute", updatable = false)
    private Integer tokensPerMinute;

    @Column(name = "max_concurrent_requests", updatable = false)
    private Integer maxConcurrentRequests;

    /** Whether this key may pin versions a name does not serve; null = its tenant's setting. */
    @Column(name = "allow_version_pinning", updatable = false)
    private Boolean allowVersionPinning;

    @Column(name = "created_at", nullable = false, updatable = false)
    private Instant createdAt;

    @Column(name = "created_by", nullable = false, length = GatewayText.MAX_ACTOR, updatable = false)
    private String createdBy;

    @Column(name = "revoked_at")
    private Instant revokedAt;

    @Column(name = "revoked_by", length = GatewayText.MAX_ACTOR)
    private String revokedBy;

    protected ApiKey() {
        // for JPA
    }

    /**
     * @param maxConcurrentRequests requests in progress at once; null = the tenant's, then the server default; 0 = unlimited
     * @param allowVersionPinning   may pin versions a name does not serve; null = the tenant's setting
     */
    public ApiKey(
            Tenant tenant,
            String name,
            String prefix,
            String secretSha256,
            List<String> allowedModels,
            Integer requestsPerMinute,
            Integer tokensPerMinute,
            Integer maxConcurrentRequests,
            Boolean allowVersionPinning,
            String actor,
            Instant at) {
        this.tenant = tenant;
        this.name = GatewayText.name("name", name);
        if (prefix == null || prefix.isBlank() || prefix.length() > 16) {
            throw new InvalidGatewayFieldException("prefix", "a key prefix is 1-16 characters");
        }
        this.prefix = prefix;
        if (secretSha256 == null || !SHA256_HEX.matcher(secretSha256).matches()) {
            throw new InvalidGatewayFieldException("secretSha256", "the secret hash must be 64 lower-case hex digits");
        }
        this.secretSha256 = secretSha256;
        this.allowedModels = String.join(",", normalizeModels(allowedModels));
        this.requestsPerMinute = GatewayText.limit("requestsPerMinute", requestsPerMinute);
        this.tokensPerMinute = GatewayText.limit("tokensPerMinute", tokensPerMinute);
        this.maxConcurrentRequests = GatewayText.limit("maxConcurrentRequests", maxConcurrentRequests);
        this.allowVersionPinning = allowVersionPinning;
        this.createdBy = GatewayText.actor(actor);
        this.createdAt = at.truncatedTo(ChronoUnit.MICROS);
    }

    /** Model names, de-duplicated in order; null or empty means every model ({@value #ALL_MODELS}). */
    static List<String> normalizeModels(List<String> models) {
        if (models == null || models.isEmpty()) {
            return List.of(ALL_MODELS);
        }
        Set<String> names = new LinkedHashSet<>();
        for (String model : models) {
            String m = model == null ? "" : model.strip();
            if (!m.equals(ALL_MODELS) && !MODEL.matcher(m).matches()) {
                throw new InvalidGatewayFieldException(
                        "allowedModels",
                        "allowedModels entries are model names (no '@version') or '*', got '" + model + "'");
            }
            names.add(m);
        }
        if (names.contains(ALL_MODELS)) {
            return List.of(ALL_MODELS);
        }
        String joined = String.join(",", names);
        if (joined.length() > GatewayText.MAX_ALLOWED_MODELS) {
            throw new InvalidGatewayFieldException(
                    "allowedModels", "allowedModels is longer than " + GatewayText.MAX_ALLOWED_MODELS + " characters");
        }
        return new ArrayList<>(names);
    }

    /** Revokes the key; a second revocation is refused so the first one's who/when stay recorded. */
    public void revoke(String actor, Instant at) {
        if (revokedAt != null) {
            throw new IllegalStateException(
                    "key " + prefix + " was already revoked at " + revokedAt + " by " + revokedBy);
        }
        this.revokedBy = GatewayText.actor(actor);
        this.revokedAt = at.truncatedTo(ChronoUnit.MICROS);
    }

    public boolean allows(String modelName) {
        return allowedModels().contains(ALL_MODELS) || allowedModels().contains(modelName);
    }

    public Long id() {
        return id;
    }

    public Tenant tenant() {
        return tenant;
    }

    public String name() {
        return name;
    }

    public String prefix() {
        return prefix;
    }

    public String secretSha256() {
        return secretSha256;
    }

    public List<String> allowedModels() {
        return List.of(allowedModels.split(","));
    }

    public Integer requestsPerMinute() {
        return requestsPerMinute;
    }

    public Integer tokensPerMinute() {
        return tokensPerMinute;
    }

    public Integer maxConcurrentRequests() {
        return maxConcurrentRequests;
    }

    public Boolean allowVersionPinning() {
        return allowVersionPinning;
    }

    public Instant createdAt() {
        return createdAt;
    }

    public String createdBy() {
        return createdBy;
    }

    public Instant revokedAt() {
        return revokedAt;
    }

    public String revokedBy() {
        return revokedBy;
    }

    public boolean revoked() {
        return revokedAt != null;
    }
}
