package dev.anvil.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import jakarta.json.JsonException;
import jakarta.json.JsonObject;
import jakarta.json.JsonString;
import org.junit.jupiter.api.Test;

/** The commands' JSON: numbers as Java prints them, no NaN, navigation that tolerates missing steps. */
class JsonTextTest {

    @Test
    void writesOneLineWithJavasNumbersAndNullForNaN() {
        String text = JsonText.write(g -> {
            g.writeStartObject().write("text", "line\nbreak \"quoted\" \u0001");
            JsonText.number(g, "small", 1.0e-5);
            JsonText.number(g, "whole", 64.0);
            JsonText.number(g, "none", Double.NaN);
            JsonText.number(g, "huge", Double.NEGATIVE_INFINITY);
            g.writeStartArray("pair").write(7L);
            JsonText.number(g, -0.25).writeEnd();
            g.writeEnd();
        });
        assertEquals(
                "{\"text\":\"line\\nbreak \\\"quoted\\\" \\u0001\",\"small\":1.0E-5,\"whole\":64.0,\"none\":null,"
                        + "\"huge\":-1E+308,\"pair\":[7,-0.25]}",
                text);
    }

    @Test
    void navigatesObjectsAndArraysAndParsesOnlyObjects() {
        JsonObject o = JsonText.object(" {\"a\":[1,2.5e1,{\"b\":\"x\\ny\\u00e9\\\"\"}],\"t\":true,\"n\":null} ");
        assertEquals(25.0, ((jakarta.json.JsonNumber) JsonText.at(o, "a", 1)).doubleValue());
        assertEquals("x\nyé\"", ((JsonString) JsonText.at(o, "a", 2, "b")).getString());
        assertNull(JsonText.at(o, "a", 9));
        assertNull(JsonText.at(o, "t", "deeper"), "a step into a value of another kind");
        assertThrows(JsonException.class, () -> JsonText.object("{\"a\":1,}"));
        assertThrows(JsonException.class, () -> JsonText.object("[1]"));
    }
}
