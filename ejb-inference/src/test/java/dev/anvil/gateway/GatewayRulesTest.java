package dev.anvil.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class GatewayRulesTest {

    @Test
    void secretsAreRandomPrefixedAndHashedToLowerHex() {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 200; i++) {
            String secret = KeySecrets.generate();
            assertTrue(secret.startsWith(KeySecrets.PREFIX), secret);
            assertEquals(4 + 43, secret.length(), "prefix + 32 bytes base64url without padding");
            assertTrue(seen.add(secret));
        }
        String secret = seen.iterator().next();
        assertTrue(KeySecrets.sha256(secret).matches("[0-9a-f]{64}"));
        assertEquals(KeySecrets.sha256(secret), KeySecrets.sha256(secret));
        assertNotEquals(KeySecrets.sha256(secret), KeySecrets.sha256(secret + "x"));
        assertEquals("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", KeySecrets.sha256(""));
        assertEquals(secret.substring(0, 12), KeySecrets.visiblePrefix(secret));
    }

    @Test
    void costIsTokensTimesPricePerThousand() {
        assertEquals(
                new BigDecimal("2.000000000"),
                GatewayConfig.Pricing.cost(new BigDecimal("0.5"), new BigDecimal("1.5"), 1000, 1000));
        assertEquals(
                new BigDecimal("0.023000000"),
                GatewayConfig.Pricing.cost(new BigDecimal("1"), new BigDecimal("2"), 3, 10));
        assertEquals(
                new BigDecimal("0.000000001"),
                GatewayConfig.Pricing.cost(new BigDecimal("0.000001"), BigDecimal.ZERO, 1, 0),
                "a billionth is kept (the column's scale is 9)");
        assertEquals(
                0, BigDecimal.ZERO.compareTo(GatewayConfig.Pricing.cost(BigDecimal.ZERO, BigDecimal.ZERO, 500, 500)));
    }

    @Test
    void limitsFallBackFromKeyToTenantToServerDefault() {
        assertEquals(7, KeyGrant.effective(7, 100, 1000));
        assertEquals(0, KeyGrant.effective(0, 100, 1000), "0 on the key = unlimited, not 'unset'");
        assertEquals(100, KeyGrant.effective(null, 100, 1000));
        assertEquals(1000, KeyGrant.effective(null, null, 1000));
    }

    @Test
    void aGrantIsScopedByModelName() {
        KeyGrant scoped = new KeyGrant(1, "anv-abc", "k", "t", List.of("a", "b"), 0, 0, null, null, false, 0, false);
        assertTrue(scoped.allows("a"));
        assertFalse(scoped.allows("c"));
        KeyGrant all = new KeyGrant(1, "anv-abc", "k", "t", List.of("*"), 0, 0, null, null, false, 0, false);
        assertTrue(all.allows("anything"));
        assertEquals("key:anv-abc", scoped.actor());
    }

    @Test
    void ledgerTextIsClippedToItsColumn() {
        assertEquals(null, GatewayLedger.clip(null, 3));
        assertEquals("abc", GatewayLedger.clip("abcdef", 3));
        assertEquals("ab", GatewayLedger.clip("ab", 3));
    }
}
