package dev.anvil.gateway.domain;

import java.util.regex.Pattern;

/** Field rules shared by tenants and API keys. */
final class GatewayText {

    static final int MAX_NAME = 64;
    static final int MAX_ACTOR = 128;
    static final int MAX_ALLOWED_MODELS = 2000;
    /** Lower-case letters, digits, '.', '_' and '-', starting with a letter or digit: safe in URLs and logs. */
    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9._-]*");

    private GatewayText() {}

    static String name(String field, String value) {
        if (value == null || value.isBlank()) {
            throw new InvalidGatewayFieldException(field, field + " is required");
        }
        String name = value.strip();
        if (name.length() > MAX_NAME || !NAME.matcher(name).matches()) {
            throw new InvalidGatewayFieldException(
                    field,
                    field + " must be 1-" + MAX_NAME
                            + " characters of a-z, 0-9, '.', '_' or '-' starting with a letter or digit, got '" + value
                            + "'");
        }
        return name;
    }

    static String actor(String actor) {
        if (actor == null || actor.isBlank() || actor.length() > MAX_ACTOR) {
            throw new InvalidGatewayFieldException("actor", "actor must be 1-" + MAX_ACTOR + " characters");
        }
        return actor;
    }

    static Integer limit(String field, Integer value) {
        if (value != null && value < 0) {
            throw new InvalidGatewayFieldException(field, field + " must be >= 0 (0 = unlimited), got " + value);
        }
        return value;
    }
}
