package dev.anvil.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import jakarta.ejb.EJBAccessException;
import org.junit.jupiter.api.Test;

class CallersTest {

    @Test
    void theActorIsThePrincipalTheContainerAuthenticated() {
        assertEquals("alice", Callers.actor(TestCallers.session("alice")));
        assertEquals("experiment-controller", Callers.actor(() -> "experiment-controller"));
    }

    @Test
    void anUnauthenticatedCallerIsRefusedRatherThanRecordedAsNobody() {
        assertThrows(EJBAccessException.class, () -> Callers.actor(TestCallers.session("anonymous")));
        assertThrows(EJBAccessException.class, () -> Callers.actor(TestCallers.session(" ")));
        assertThrows(EJBAccessException.class, () -> Callers.actor((java.security.Principal) null));
    }
}
