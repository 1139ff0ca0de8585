package dev.anvil.api.openai;

import dev.anvil.api.ApiException;
import jakarta.json.JsonArray;
import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;

/**
 * Typed access to request fields: a value of the wrong JSON type is a 400 naming the field in {@code param}.
 * A field that is absent or JSON {@code null} reads as "not given" (null), as in OpenAI's API.
 */
final class Fields {

    private Fields() {}

    static boolean given(JsonObject o, String key) {
        JsonValue v = o.get(key);
        return v != null && v.getValueType() != JsonValue.ValueType.NULL;
    }

    static JsonValue value(JsonObject o, String key) {
        return given(o, key) ? o.get(key) : null;
    }

    static Double number(JsonObject o, String key, String param) {
        JsonValue v = value(o, key);
        if (v == null) return null;
        if (v.getValueType() != JsonValue.ValueType.NUMBER) {
            throw ApiException.badRequest("'" + param + "' must be a number, got " + typeName(v), param);
        }
        return ((JsonNumber) v).doubleValue();
    }

    static Long integer(JsonObject o, String key, String param) {
        JsonValue v = value(o, key);
        if (v == null) return null;
        if (v.getValueType() != JsonValue.ValueType.NUMBER || !((JsonNumber) v).isIntegral()) {
            throw ApiException.badRequest("'" + param + "' must be an integer, got " + describe(v), param);
        }
        try {
            return ((JsonNumber) v).longValueExact();
        } catch (ArithmeticException e) {
            throw ApiException.badRequest("'" + param + "' is out of range: " + v, param);
        }
    }

    static Boolean bool(JsonObject o, String key, String param) {
        JsonValue v = value(o, key);
        if (v == null) return null;
        if (v == JsonValue.TRUE) return true;
        if (v == JsonValue.FALSE) return false;
        throw ApiException.badRequest("'" + param + "' must be a boolean, got " + typeName(v), param);
    }

    static String string(JsonObject o, String key, String param) {
        JsonValue v = value(o, key);
        if (v == null) return null;
        if (v.getValueType() != JsonValue.ValueType.STRING) {
            throw ApiException.badRequest("'" + param + "' must be a string, got " + typeName(v), param);
        }
        return ((JsonString) v).getString();
    }

    static JsonObject object(JsonObject o, String key, String param) {
        JsonValue v = value(o, key);
        if (v == null) return null;
        if (v.getValueType() != JsonValue.ValueType.OBJECT) {
            throw ApiException.badRequest("'" + param + "' must be an object, got " + typeName(v), param);
        }
        return v.asJsonObject();
    }

    /** A number within [min, max] (inclusive unless {@code minExclusive}). */
    static Double ranged(JsonObject o, String key, double min, boolean minExclusive, double max) {
        Double d = number(o, key, key);
        if (d == null) return null;
        boolean aboveMin = minExclusive ? d > min : d >= min;
        if (!aboveMin || d > max || d.isNaN()) {
            throw ApiException.badRequest(
                    "'" + key + "' must be " + (minExclusive ? "greater than " : "between ") + fmt(min)
                            + (minExclusive ? " and at most " : " and ") + fmt(max) + ", got " + fmt(d),
                    key);
        }
        return d;
    }

    static Integer intAtLeast(JsonObject o, String key, long min) {
        Long n = integer(o, key, key);
        if (n == null) return null;
        if (n < min) {
            throw ApiException.badRequest("'" + key + "' must be at least " + min + ", got " + n, key);
        }
        if (n > Integer.MAX_VALUE) {
            throw ApiException.badRequest("'" + key + "' is too large: " + n, key);
        }
        return n.intValue();
    }

    /**
     * A token-id array at {@code where} (for messages) of request field {@code param} (for the error's {@code param}):
     * non-empty, integral, each id in {@code [0, Integer.MAX_VALUE]} (the model's vocabulary is checked later).
     */
    static int[] tokenIds(JsonArray array, String where, String param) {
        if (array.isEmpty()) throw ApiException.badRequest("'" + where + "' must not be an empty token array", param);
        int[] ids = new int[array.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonValue item = array.get(i);
            if (item.getValueType() != JsonValue.ValueType.NUMBER || !((JsonNumber) item).isIntegral()) {
                throw ApiException.badRequest(
                        "'" + where + "' must contain only integer token ids, element " + i + " is " + typeName(item),
                        param);
            }
            long id = ((JsonNumber) item).longValue();
            if (id < 0 || id > Integer.MAX_VALUE) {
                throw ApiException.badRequest(
                        "'" + where + "' element " + i + " is not a valid token id: " + id, param);
            }
            ids[i] = (int) id;
        }
        return ids;
    }

    static String typeName(JsonValue v) {
        return switch (v.getValueType()) {
            case OBJECT -> "an object";
            case ARRAY -> "an array";
            case STRING -> "a string";
            case NUMBER -> "a number";
            case TRUE, FALSE -> "a boolean";
            case NULL -> "null";
        };
    }

    private static String describe(JsonValue v) {
        return v.getValueType() == JsonValue.ValueType.NUMBER ? v.toString() : typeName(v);
    }

    private static String fmt(double d) {
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? String.valueOf((long) d) : String.valueOf(d);
    }
}
