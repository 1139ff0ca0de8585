package dev.anvil.security;

import jakarta.ejb.EJBAccessException;
import jakarta.ejb.SessionContext;
import java.security.Principal;

/**
 * The actor of a change: the principal the container authenticated for the call (an HTTP Basic user, or the
 * run-as principal of a system bean such as the experiment controller). Never anything the request says about
 * itself: there is no header or field that names an actor.
 */
public final class Callers {

    /** The name Elytron gives a caller that did not authenticate. */
    public static final String ANONYMOUS = "anonymous";

    private Callers() {}

    /** The authenticated caller of the current EJB invocation. */
    public static String actor(SessionContext session) {
        return actor(session == null ? null : session.getCallerPrincipal());
    }

    /**
     * The principal's name. An unauthenticated caller has no name to record: the methods that record actors are
     * role-checked, so reaching this without one means the deployment's security is misconfigured, and the change is
     * refused rather than attributed to nobody.
     */
    public static String actor(Principal principal) {
        String name = principal == null ? null : principal.getName();
        if (name == null || name.isBlank() || name.equals(ANONYMOUS)) {
            throw new EJBAccessException("this change needs an authenticated caller");
        }
        return name;
    }
}
