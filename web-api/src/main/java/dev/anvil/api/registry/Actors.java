package dev.anvil.api.registry;

import java.security.Principal;

/**
 * Who is making a registry change: the authenticated principal when there is one, else the
 * {@value #HEADER} header (an interim, unauthenticated attribution until the gateway adds real
 * authentication), else {@value #ANONYMOUS}. The registry validates the result (non-blank, at most 128 characters).
 */
final class Actors {

    static final String HEADER = "X-Anvil-Actor";
    static final String ANONYMOUS = "anonymous";

    private Actors() {
    }

    static String resolve(Principal principal, String header) {
        // Some security layers report an unauthenticated caller as a principal named "anonymous".
        if (principal != null && principal.getName() != null && !principal.getName().isBlank()
                && !principal.getName().equals(ANONYMOUS)) {
            return principal.getName();
        }
        if (header != null && !header.isBlank()) {
            return header.strip();
        }
        return ANONYMOUS;
    }
}
