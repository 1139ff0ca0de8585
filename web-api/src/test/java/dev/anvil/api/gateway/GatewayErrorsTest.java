package dev.anvil.api.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.anvil.gateway.GatewayGuard;
import dev.anvil.gateway.LimitDecision;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class GatewayErrorsTest {

    @Test
    void resetDurationsUseOpenAisFormat() {
        assertEquals("250ms", GatewayErrors.duration(250));
        assertEquals("1s", GatewayErrors.duration(1000));
        assertEquals("2s", GatewayErrors.duration(1001), "rounded up: never earlier than the real reset");
        assertEquals("6m0s", GatewayErrors.duration(360_000));
        assertEquals("1m30s", GatewayErrors.duration(90_000));
    }

    @Test
    void retryAfterIsWholeSecondsRoundedUpAndAtLeastOne() {
        assertEquals(1, GatewayErrors.seconds(0));
        assertEquals(1, GatewayErrors.seconds(1));
        assertEquals(2, GatewayErrors.seconds(1001));
        assertEquals(60, GatewayErrors.seconds(60_000));
    }

    @Test
    void limitHeadersAppearOnlyForLimitsThatApply() {
        Map<String, Object> headers = new LinkedHashMap<>();
        GatewayGuard.Admission admission = new GatewayGuard.Admission(
                GatewayGuard.Refusal.NONE,
                new LimitDecision(true, 10, 7, 18_000, 0),
                LimitDecision.UNLIMITED,
                -1,
                null);
        GatewayErrors.addLimitHeaders(headers::put, admission);
        assertEquals(
                Map.of(
                        "x-ratelimit-limit-requests",
                        10L,
                        "x-ratelimit-remaining-requests",
                        7L,
                        "x-ratelimit-reset-requests",
                        "18s"),
                headers);
        assertNull(headers.get("x-ratelimit-limit-tokens"));

        headers.clear();
        GatewayErrors.addLimitHeaders(headers::put, null);
        assertEquals(Map.of(), headers);
    }
}
