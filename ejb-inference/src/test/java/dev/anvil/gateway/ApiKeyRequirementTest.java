package dev.anvil.gateway;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import org.junit.jupiter.api.Test;

class ApiKeyRequirementTest {

    private static InetAddress ip(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    private static final List<InetAddress> LOOPBACK = List.of(ip("127.0.0.1"));
    private static final List<InetAddress> LOOPBACK6 = List.of(ip("::1"));
    private static final List<InetAddress> ANY = List.of(ip("0.0.0.0"));
    private static final List<InetAddress> LAN = List.of(ip("127.0.0.1"), ip("192.168.1.20"));

    @Test
    void byDefaultAnonymousCallersAreServedOnlyWhileTheApiListensOnLoopback() {
        assertFalse(ApiKeyRequirement.decide(null, LOOPBACK).required());
        assertFalse(ApiKeyRequirement.decide("auto", LOOPBACK6).required());
        ApiKeyRequirement any = ApiKeyRequirement.decide("auto", ANY);
        assertTrue(any.required());
        assertTrue(any.explanation().contains("0.0.0.0"), any.explanation());
        assertNull(any.warning());
        assertTrue(ApiKeyRequirement.decide(" AUTO ", LAN).required(), "one address beyond loopback is enough");
    }

    @Test
    void anUnknownListeningAddressCountsAsExposed() {
        assertTrue(ApiKeyRequirement.decide("auto", List.of()).required());
    }

    @Test
    void trueAlwaysRequiresAKey() {
        assertTrue(ApiKeyRequirement.decide("true", LOOPBACK).required());
        assertTrue(ApiKeyRequirement.decide("true", ANY).required());
    }

    @Test
    void anOperatorMayTurnKeysOffExplicitlyAndIsWarnedWhenTheServerIsReachable() {
        ApiKeyRequirement local = ApiKeyRequirement.decide("false", LOOPBACK);
        assertFalse(local.required());
        assertNull(local.warning());
        ApiKeyRequirement exposed = ApiKeyRequirement.decide("false", ANY);
        assertFalse(exposed.required());
        assertNotNull(exposed.warning());
        assertTrue(
                exposed.warning().contains("0.0.0.0")
                        && exposed.warning().contains("anvil.gateway.require-api-key=false"),
                exposed.warning());
        assertNotNull(ApiKeyRequirement.decide("false", List.of()).warning(), "unknown addresses: warn as well");
    }

    @Test
    void anInvalidSettingFailsClosed() {
        ApiKeyRequirement typo = ApiKeyRequirement.decide("flase", LOOPBACK);
        assertTrue(typo.required());
        assertNotNull(typo.warning());
    }
}
