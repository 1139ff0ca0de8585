package dev.anvil.cache;

import java.util.Locale;

/**
 * What a request's {@code Cache-Control} header asks of the response cache.
 *
 * <ul>
 *   <li>{@code no-cache}: do not answer from the cache; the fresh generation is stored (it refreshes the entry).</li>
 *   <li>{@code no-store}: do not answer from the cache and do not store this request's generation.</li>
 * </ul>
 * Other directives ({@code max-age}, {@code only-if-cached}, ...) are ignored: entries have one server-side
 * lifespan ({@code anvil.cache.ttl-seconds}).
 *
 * @param noCache the cache must not answer this request
 * @param noStore the generation of this request must not be stored
 */
public record CacheDirective(boolean noCache, boolean noStore) {

    public static final CacheDirective NONE = new CacheDirective(false, false);

    /** Parses a {@code Cache-Control} header value (null or blank: no directive). Directive names are case-insensitive. */
    public static CacheDirective parse(String header) {
        if (header == null || header.isBlank()) return NONE;
        boolean noCache = false, noStore = false;
        for (String part : header.split(",")) {
            String directive = part.trim();
            int eq = directive.indexOf('=');
            // "no-cache" may carry a field list (no-cache="Set-Cookie"); any form means "do not serve from cache".
            String name =
                    (eq < 0 ? directive : directive.substring(0, eq)).trim().toLowerCase(Locale.ROOT);
            switch (name) {
                case "no-cache" -> noCache = true;
                case "no-store" -> noStore = true;
                default -> {}
            }
        }
        return noCache || noStore ? new CacheDirective(noCache, noStore) : NONE;
    }

    /** Whether the cache may answer the request. */
    public boolean mayRead() {
        return !noCache && !noStore;
    }

    /** Whether the request's generation may be stored. */
    public boolean mayWrite() {
        return !noStore;
    }
}
