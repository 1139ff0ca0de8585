package dev.anvil.api.registry;

import org.junit.jupiter.api.Test;

import java.security.Principal;

import static org.junit.jupiter.api.Assertions.assertEquals;

class ActorsTest {

    private static Principal named(String name) {
        return () -> name;
    }

    @Test
    void authenticatedPrincipalWinsOverTheHeader() {
        assertEquals("alice", Actors.resolve(named("alice"), "mallory"));
    }

    @Test
    void headerIsUsedWithoutAPrincipal() {
        assertEquals("ci-bot", Actors.resolve(null, "  ci-bot "));
        assertEquals("ci-bot", Actors.resolve(named("anonymous"), "ci-bot"));
        assertEquals("ci-bot", Actors.resolve(named(" "), "ci-bot"));
    }

    @Test
    void anonymousWhenNothingIdentifiesTheCaller() {
        assertEquals("anonymous", Actors.resolve(null, null));
        assertEquals("anonymous", Actors.resolve(null, "   "));
    }
}
