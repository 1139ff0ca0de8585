package dev.anvil.gateway;

/**
 * Who received a response, as its usage row records it, and the rule of who may rate it ({@link #mayBeRatedBy}).
 *
 * <p>A response to an API key belongs to the key's tenant: any key of that tenant may rate it (a backend may serve
 * with one key and collect ratings with another), nobody else. A response to an anonymous caller (keys not
 * required) belongs to its subject: the experiment subject key (the request's {@code user}, else the
 * {@code X-Anvil-User} header) when the caller gave one, else its network address as the server sees it (the TCP
 * peer, not a forwarded-for header: a caller cannot claim another's address without being on its network path).
 * Only the SHA-256 of the subject is stored.
 *
 * @param tenant        the key's tenant; null for an anonymous recipient
 * @param apiKeyId      the key; null for an anonymous recipient
 * @param subjectSha256 SHA-256 (hex) of an anonymous recipient's subject; null for a keyed one
 */
public record Recipient(String tenant, Long apiKeyId, String subjectSha256) {

    /** The subject prefix of a caller-given subject key ({@code user} / {@code X-Anvil-User}). */
    static final String USER = "user:";
    /** The subject prefix of a caller known only by its network address. */
    static final String ADDRESS = "address:";

    /** A caller with an API key. */
    public static Recipient of(KeyGrant key) {
        return new Recipient(key.tenant(), key.keyId(), null);
    }

    /**
     * An anonymous caller: its subject key when it gave a non-blank one, else its network address.
     *
     * @param subjectKey the request's {@code user} or {@code X-Anvil-User}; null or blank when none
     * @param address    the caller's network address (the TCP peer)
     */
    public static Recipient anonymous(String subjectKey, String address) {
        String subject = subjectKey != null && !subjectKey.isBlank() ? USER + subjectKey.strip() : ADDRESS + address;
        return new Recipient(null, null, KeySecrets.sha256(subject));
    }

    public boolean anonymous() {
        return tenant == null;
    }

    /** Whether {@code rater} is the caller this response went to (same tenant, or the same anonymous subject). */
    public boolean mayBeRatedBy(Recipient rater) {
        if (rater == null) {
            return false;
        }
        if (!anonymous()) {
            return tenant.equals(rater.tenant());
        }
        return rater.anonymous() && subjectSha256 != null && subjectSha256.equals(rater.subjectSha256());
    }
}
