package dev.anvil.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.gateway.domain.BudgetPeriod;
import java.util.List;
import org.junit.jupiter.api.Test;

class RecipientTest {

    private static KeyGrant key(long id, String tenant) {
        return new KeyGrant(id, "anv-k" + id, "k", tenant, List.of("*"), 0, 0, null, BudgetPeriod.DAY, false, 0, false);
    }

    @Test
    void aKeyedResponseMayBeRatedByAnyKeyOfItsTenantOnly() {
        Recipient served = Recipient.of(key(1, "acme"));
        assertNull(served.subjectSha256());
        assertTrue(served.mayBeRatedBy(Recipient.of(key(1, "acme"))));
        assertTrue(served.mayBeRatedBy(Recipient.of(key(2, "acme"))), "another key of the same tenant");
        assertFalse(served.mayBeRatedBy(Recipient.of(key(3, "globex"))));
        assertFalse(served.mayBeRatedBy(Recipient.anonymous("acme", "127.0.0.1")));
        assertFalse(served.mayBeRatedBy(null));
    }

    @Test
    void anAnonymousResponseBelongsToItsSubjectKeyElseItsAddress() {
        Recipient alice = Recipient.anonymous("alice", "10.0.0.1");
        assertTrue(
                alice.mayBeRatedBy(Recipient.anonymous(" alice ", "10.0.0.2")),
                "the subject key decides, wherever it comes from");
        assertFalse(alice.mayBeRatedBy(Recipient.anonymous("bob", "10.0.0.1")));
        assertFalse(
                alice.mayBeRatedBy(Recipient.anonymous(null, "10.0.0.1")),
                "no subject key: the address, which is another subject");
        assertFalse(alice.mayBeRatedBy(Recipient.of(key(1, "alice"))), "a key never rates an anonymous response");

        Recipient byAddress = Recipient.anonymous("  ", "10.0.0.1");
        assertTrue(byAddress.mayBeRatedBy(Recipient.anonymous(null, "10.0.0.1")));
        assertFalse(byAddress.mayBeRatedBy(Recipient.anonymous(null, "10.0.0.2")));
        assertFalse(
                byAddress.mayBeRatedBy(Recipient.anonymous("10.0.0.1", "10.0.0.9")),
                "a subject key equal to an address is not that address");
        assertEquals(64, byAddress.subjectSha256().length(), "only a hash of the subject is kept");
    }
}
