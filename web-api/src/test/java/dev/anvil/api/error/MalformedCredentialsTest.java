package dev.anvil.api.error;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;

class MalformedCredentialsTest {

    private static String basic(String userPassword) {
        return "Basic " + Base64.getEncoder().encodeToString(userPassword.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void wellFormedBasicCredentialsAndOtherSchemesPass() {
        assertTrue(MalformedCredentials.wellFormed(basic("it-admin:it-secret-1")));
        assertTrue(MalformedCredentials.wellFormed(basic("user:wrong password")));
        assertTrue(MalformedCredentials.wellFormed(
                "basic " + Base64.getEncoder().withoutPadding().encodeToString("a:b".getBytes())));
        assertTrue(MalformedCredentials.wellFormed("Bearer anv-xyz"));
        assertTrue(MalformedCredentials.wellFormed("Bearer !!!"));
        assertTrue(MalformedCredentials.wellFormed("Basically anything"));
    }

    @Test
    void basicCredentialsElytronCannotReadAreRefused() {
        assertFalse(MalformedCredentials.wellFormed("Basic !!!"));
        assertFalse(MalformedCredentials.wellFormed("Basic"));
        assertFalse(MalformedCredentials.wellFormed("Basic    "));
        assertFalse(MalformedCredentials.wellFormed(basic("no-colon")));
        assertFalse(MalformedCredentials.wellFormed("Basic a===="));
    }
}
