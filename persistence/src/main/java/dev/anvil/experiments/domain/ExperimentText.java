package dev.anvil.experiments.domain;

import java.util.regex.Pattern;

/** Field rules shared by the experiment entities. */
public final class ExperimentText {

    public static final int MAX_ACTOR = 128;
    public static final int MAX_REASON = 1000;
    public static final int MAX_HYPOTHESIS = 2000;
    public static final int MAX_SYSTEM_PROMPT = 4000;
    public static final int MAX_COMMENT = 4000;
    public static final int MAX_RESPONSE_ID = 128;
    /** Names appear in URLs: a safe, bounded alphabet. */
    public static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    public static final Pattern VARIANT_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    private ExperimentText() {}

    static String require(String field, String value, Pattern pattern, String what) {
        if (value == null || value.isBlank()) {
            throw new InvalidExperimentException(field, field + " is required");
        }
        if (!pattern.matcher(value).matches()) {
            throw new InvalidExperimentException(
                    field,
                    "invalid " + what + " '" + value
                            + "': letters, digits, '.', '_' and '-' only, starting with a letter or digit, at most "
                            + (pattern == VARIANT_NAME ? 64 : 128) + " characters");
        }
        return value;
    }

    public static String requireActor(String actor) {
        if (actor == null || actor.isBlank()) {
            throw new InvalidExperimentException("actor", "actor is required");
        }
        String a = actor.strip();
        if (a.length() > MAX_ACTOR) {
            throw new InvalidExperimentException("actor", "actor is longer than " + MAX_ACTOR + " characters");
        }
        return a;
    }

    /** Null for a blank value; refuses one longer than {@code max} or holding a NUL character. */
    public static String optional(String field, String value, int max) {
        if (value == null || value.isBlank()) return null;
        if (value.length() > max) {
            throw new InvalidExperimentException(
                    field, field + " is longer than " + max + " characters (" + value.length() + ")");
        }
        return refuseNul(field, value);
    }

    /** PostgreSQL text cannot hold U+0000 (the insert fails): refused up front, whatever the database. */
    static String refuseNul(String field, String value) {
        if (value != null && value.indexOf('\u0000') >= 0) {
            throw new InvalidExperimentException(
                    field, field + " contains a NUL character (U+0000), which cannot be stored");
        }
        return value;
    }
}
