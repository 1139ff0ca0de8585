package dev.anvil.security;

import jakarta.ejb.SessionContext;
import java.lang.reflect.Proxy;
import java.security.Principal;

/**
 * The container's {@link SessionContext} as unit tests need it: only {@code getCallerPrincipal} answers, every
 * other method fails the test (a bean that starts depending on more of the context should get a real container).
 */
public final class TestCallers {

    private TestCallers() {}

    /** A session whose caller principal is named {@code user}. */
    public static SessionContext session(String user) {
        Principal principal = () -> user;
        return (SessionContext) Proxy.newProxyInstance(
                TestCallers.class.getClassLoader(),
                new Class<?>[] {SessionContext.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "getCallerPrincipal" -> principal;
                    case "toString" -> "TestCallers.session(" + user + ")";
                    default ->
                        throw new UnsupportedOperationException(
                                "SessionContext." + method.getName() + " in a unit test");
                });
    }
}
