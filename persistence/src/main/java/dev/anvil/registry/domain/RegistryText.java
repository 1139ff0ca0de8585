package dev.anvil.registry.domain;

import java.util.regex.Pattern;

/** Shared checks for the free-text and identifier fields of registry entities; limits match the schema's column sizes. */
public final class RegistryText {

    public static final int MAX_ACTOR = 128;
    public static final int MAX_DESCRIPTION = 2000;
    public static final int MAX_REASON = 1000;

    /** Model names appear in URL paths, so they are restricted to URL-safe characters. */
    public static final Pattern MODEL_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    private RegistryText() {}

    public static String requireModelName(String name) {
        if (name == null || !MODEL_NAME.matcher(name).matches()) {
            throw new InvalidRegistryFieldException(
                    "name",
                    "model name '" + name
                            + "' is invalid: 1-128 characters, letters, digits, '.', '_' or '-', starting with a letter or digit");
        }
        return name;
    }

    public static String requireActor(String actor) {
        if (actor == null || actor.isBlank()) {
            throw new InvalidRegistryFieldException("actor", "actor is required");
        }
        if (actor.length() > MAX_ACTOR) {
            throw new InvalidRegistryFieldException("actor", "actor is longer than " + MAX_ACTOR + " characters");
        }
        return actor.strip();
    }

    /**
     * Returns null for a missing or blank value, otherwise the stripped text if it fits in {@code max} characters and
     * holds no NUL character.
     */
    public static String optional(String field, String value, int max) {
        if (value == null || value.isBlank()) return null;
        String stripped = value.strip();
        if (stripped.length() > max) {
            throw new InvalidRegistryFieldException(field, field + " is longer than " + max + " characters");
        }
        if (stripped.indexOf('\u0000') >= 0) { // PostgreSQL text cannot hold U+0000 (the insert would fail)
            throw new InvalidRegistryFieldException(
                    field, field + " contains a NUL character (U+0000), which cannot be stored");
        }
        return stripped;
    }
}
