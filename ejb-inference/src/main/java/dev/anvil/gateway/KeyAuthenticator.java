package dev.anvil.gateway;

import jakarta.ejb.EJB;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Turns a presented secret into the {@link KeyGrant} of a valid key. Authenticated keys are remembered per node
 * for {@code anvil.gateway.key-cache-seconds} so that the request path does not read the database every time;
 * revoking or reconfiguring on this node forgets them at once, on other nodes within that time. Unknown
 * secrets are not remembered (a flood of bad keys must not fill the heap).
 */
@ApplicationScoped
public class KeyAuthenticator {

    private record Remembered(KeyGrant grant, long expiresAtNanos) {}

    @EJB
    GatewayAdmin admin;

    @Inject
    GatewayConfig config;

    private final ConcurrentHashMap<String, Remembered> remembered = new ConcurrentHashMap<>();

    public Optional<KeyGrant> authenticate(String secret) {
        if (secret == null || !secret.startsWith(KeySecrets.PREFIX) || secret.length() > 200) {
            return Optional.empty();
        }
        String hash = KeySecrets.sha256(secret);
        long now = System.nanoTime();
        Remembered known = remembered.get(hash);
        if (known != null && now - known.expiresAtNanos() < 0) {
            return Optional.of(known.grant());
        }
        KeyGrant grant = admin.grantFor(hash);
        if (grant == null) {
            remembered.remove(hash);
            return Optional.empty();
        }
        remembered.put(hash, new Remembered(grant, now + config.keyCacheSeconds() * 1_000_000_000L));
        return Optional.of(grant);
    }

    void forget(String secretSha256) {
        remembered.remove(secretSha256);
    }

    void forgetAll() {
        remembered.clear();
    }
}
