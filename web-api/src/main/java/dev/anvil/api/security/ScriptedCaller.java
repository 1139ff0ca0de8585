package dev.anvil.api.security;

/**
 * Whether a request was made by a script (the admin console's {@code fetch} calls), which says so with
 * {@code X-Requested-With: XMLHttpRequest}. A 401 to such a request carries no {@code WWW-Authenticate: Basic}
 * challenge: a browser answers that challenge with its own login dialog, over the page's login form, and keeps
 * asking. Without the header nothing changes: curl, clients and a browser opening an admin URL get the challenge.
 */
public final class ScriptedCaller {

    public static final String HEADER = "X-Requested-With";
    static final String VALUE = "XMLHttpRequest";

    private ScriptedCaller() {}

    public static boolean isScripted(String requestedWith) {
        return VALUE.equalsIgnoreCase(requestedWith);
    }
}
