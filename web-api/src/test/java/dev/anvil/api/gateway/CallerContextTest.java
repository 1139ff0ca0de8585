package dev.anvil.api.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.api.ApiException;
import dev.anvil.gateway.KeyGrant;
import dev.anvil.gateway.domain.BudgetPeriod;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The pinning rule of {@link CallerContext}, for an anonymous caller and for keys with and without the flag. */
class CallerContextTest {

    private static CallerContext callerWith(KeyGrant key) {
        CallerContext caller = new CallerContext();
        caller.begin(new GatewayCall(key, "/v1/completions", null, null));
        return caller;
    }

    private static KeyGrant key(boolean allowVersionPinning) {
        return new KeyGrant(
                1,
                "anv-abcdefgh",
                "k",
                "acme",
                List.of("*"),
                0,
                0,
                null,
                BudgetPeriod.DAY,
                false,
                0,
                allowVersionPinning);
    }

    @Test
    void anyoneMayPinTheVersionANameServesOrUseThePlainName() {
        CallerContext anonymous = callerWith(null);
        anonymous.requireVersionPin("m@1.0.0", true);
        anonymous.requireVersionPin("m", false);
        callerWith(key(false)).requireVersionPin("m@1.0.0", true);
    }

    @Test
    void anotherVersionNeedsAKeyThatMayPinIt() {
        ApiException anonymous =
                assertThrows(ApiException.class, () -> callerWith(null).requireVersionPin("m@2.0.0", false));
        assertEquals(403, anonymous.status());
        assertEquals("version_pin_not_allowed", anonymous.code());
        assertEquals("model", anonymous.param());
        assertTrue(anonymous.getMessage().contains("allowVersionPinning"), anonymous.getMessage());
        ApiException keyed =
                assertThrows(ApiException.class, () -> callerWith(key(false)).requireVersionPin("m@2.0.0", false));
        assertTrue(
                keyed.getMessage().contains("anv-abcdefgh")
                        && keyed.getMessage().contains("acme"),
                keyed.getMessage());
        callerWith(key(true)).requireVersionPin("m@2.0.0", false);
    }
}
