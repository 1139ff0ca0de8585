package dev.anvil.tools;

import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonException;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import jakarta.json.stream.JsonGenerator;
import java.io.StringReader;
import java.io.StringWriter;
import java.math.BigDecimal;
import java.util.function.Consumer;

/** The JSON the commands print and read, through JSON-P. */
public final class JsonText {

    private static final BigDecimal LARGEST = new BigDecimal("1e308");

    private JsonText() {}

    /** One JSON text, written on one line by {@code body}. */
    public static String write(Consumer<JsonGenerator> body) {
        StringWriter text = new StringWriter();
        try (JsonGenerator g = Json.createGenerator(text)) {
            body.accept(g);
        }
        return text.toString();
    }

    /**
     * {@code name: value}. JSON has no NaN or infinities: NaN (a percentile of no values) is written as null, an
     * infinity as ±1e308.
     */
    public static JsonGenerator number(JsonGenerator g, String name, double value) {
        if (Double.isNaN(value)) return g.writeNull(name);
        if (Double.isInfinite(value)) return g.write(name, value > 0 ? LARGEST : LARGEST.negate());
        return g.write(name, value);
    }

    /** An array element, as {@link #number(JsonGenerator, String, double)}. */
    public static JsonGenerator number(JsonGenerator g, double value) {
        if (Double.isNaN(value)) return g.writeNull();
        if (Double.isInfinite(value)) return g.write(value > 0 ? LARGEST : LARGEST.negate());
        return g.write(value);
    }

    /** Parses a JSON object; {@link JsonException} when {@code text} is not valid JSON or holds something else. */
    public static JsonObject object(String text) {
        JsonValue value;
        try (jakarta.json.JsonReader reader = Json.createReader(new StringReader(text))) {
            value = reader.readValue();
        }
        if (!(value instanceof JsonObject object)) throw new JsonException("not a JSON object: " + abbreviated(text));
        return object;
    }

    /**
     * {@code root.a.b[0].c}-style navigation: keys for objects, integers for arrays; null when a step is missing or
     * meets a value of another kind.
     */
    public static JsonValue at(JsonValue root, Object... steps) {
        JsonValue at = root;
        for (Object step : steps) {
            if (step instanceof String key && at instanceof JsonObject object) {
                at = object.get(key);
            } else if (step instanceof Integer index && at instanceof JsonArray array) {
                at = index >= 0 && index < array.size() ? array.get(index) : null;
            } else {
                return null;
            }
        }
        return at;
    }

    /** {@code text} cut to a length an error message can carry. */
    public static String abbreviated(String text) {
        return text.length() <= 500 ? text : text.substring(0, 500) + "...";
    }
}
