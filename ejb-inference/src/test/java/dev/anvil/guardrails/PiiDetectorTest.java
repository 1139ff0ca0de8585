package dev.anvil.guardrails;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PiiDetectorTest {

    private static List<String> kinds(String text) {
        return PiiDetector.find(text).stream().map(TextSpan::kind).toList();
    }

    @ParameterizedTest
    @ValueSource(strings = {"write to jane.doe@example.com today", "x: a_b+tag@mail.example.co.uk.", "<ops@anvil.dev>"})
    void findsEmails(String text) {
        assertEquals(List.of(PiiDetector.EMAIL), kinds(text));
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "call 555-123-4567 now",
                "call (555) 123-4567",
                "tel +44 20 7946 0958",
                "+1-555-123-4567",
                "phone: 555.123.4567"
            })
    void findsPhoneNumbers(String text) {
        assertEquals(List.of(PiiDetector.PHONE), kinds(text), text);
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "card 4111 1111 1111 1111 exp",
                "4111-1111-1111-1111",
                "pay with 5500005555555559",
                "378282246310005"
            })
    void findsLuhnValidCardNumbers(String text) {
        assertEquals(List.of(PiiDetector.CARD), kinds(text), text);
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "the meeting is on 2024-01-15 at 10:30",
                "version 1.2.3 of the model",
                "server 192.168.100.200 answered",
                "ISBN 978-3-16-148410-0",
                "it cost 1 000 000 000 coins",
                "order 4111 1111 1111 1112 is not a card", // fails the Luhn check
                "the id 12345678901234 has no separators",
                "user@localhost is not an address with a domain",
                "a plain @mention and an email-like token foo@bar",
                "once upon a time there was a little girl"
            })
    void ignoresThingsThatAreNotPersonalData(String text) {
        assertEquals(List.of(), kinds(text), text);
    }

    @Test
    void luhn() {
        assertTrue(PiiDetector.luhn("4111111111111111"));
        assertTrue(PiiDetector.luhn("79927398713"));
        assertFalse(PiiDetector.luhn("4111111111111112"));
        assertFalse(PiiDetector.luhn("79927398710"));
    }

    @Test
    void redactsEveryKindInPlace() {
        String text = "Mail jane@example.org or call +1 555 123 4567; card 4111 1111 1111 1111.";
        assertEquals("Mail [EMAIL] or call [PHONE]; card [CARD].", PiiDetector.redact(text));
    }

    @Test
    void everyMatchIsShorterThanTheBound() {
        String longest = "a".repeat(40) + "@" + ("b".repeat(20) + ".").repeat(3) + "c".repeat(10);
        List<TextSpan> spans = PiiDetector.find(longest);
        assertEquals(1, spans.size());
        assertTrue(spans.getFirst().end() - spans.getFirst().start() <= PiiDetector.MAX_MATCH_CHARS);
    }
}
