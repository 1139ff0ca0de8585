package dev.anvil.registry.domain;

import java.util.List;
import java.util.Objects;

/**
 * A version string in Semantic Versioning 2.0.0 form: {@code MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]}.
 * Parsing enforces the grammar of semver.org (no leading zeros in numeric identifiers, no empty
 * identifiers); ordering follows its precedence rules, in which build metadata takes no part.
 * The original text is kept, so {@code 1.0.0+a} and {@code 1.0.0+b} stay distinct registry versions.
 */
public final class SemanticVersion implements Comparable<SemanticVersion> {

    /** Longest accepted text; the database column is sized to match. */
    public static final int MAX_LENGTH = 64;

    private final String text;
    private final long major;
    private final long minor;
    private final long patch;
    private final List<String> preRelease;
    private final List<String> build;

    private SemanticVersion(
            String text, long major, long minor, long patch, List<String> preRelease, List<String> build) {
        this.text = text;
        this.major = major;
        this.minor = minor;
        this.patch = patch;
        this.preRelease = preRelease;
        this.build = build;
    }

    /** Parses {@code text}; throws {@link InvalidSemanticVersionException} naming what is wrong with it. */
    public static SemanticVersion parse(String text) {
        if (text == null || text.isEmpty()) {
            throw new InvalidSemanticVersionException("version is required (semantic version such as 1.0.0)");
        }
        if (text.length() > MAX_LENGTH) {
            throw new InvalidSemanticVersionException(
                    "version '" + abbreviate(text) + "' is longer than " + MAX_LENGTH + " characters");
        }
        String rest = text;
        List<String> build = List.of();
        int plus = rest.indexOf('+');
        if (plus >= 0) {
            build = identifiers(text, rest.substring(plus + 1), "build metadata", false);
            rest = rest.substring(0, plus);
        }
        List<String> preRelease = List.of();
        int dash = rest.indexOf('-');
        if (dash >= 0) {
            preRelease = identifiers(text, rest.substring(dash + 1), "pre-release", true);
            rest = rest.substring(0, dash);
        }
        String[] core = rest.split("\\.", -1);
        if (core.length != 3) {
            throw new InvalidSemanticVersionException(
                    "version '" + text + "' is not a semantic version: expected MAJOR.MINOR.PATCH such as 1.2.3");
        }
        return new SemanticVersion(
                text,
                numeric(text, core[0], "major"),
                numeric(text, core[1], "minor"),
                numeric(text, core[2], "patch"),
                preRelease,
                build);
    }

    private static long numeric(String text, String part, String what) {
        if (part.isEmpty() || !part.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new InvalidSemanticVersionException(
                    "version '" + text + "': " + what + " version '" + part + "' must be a non-negative integer");
        }
        if (part.length() > 1 && part.charAt(0) == '0') {
            throw new InvalidSemanticVersionException(
                    "version '" + text + "': " + what + " version '" + part + "' has a leading zero");
        }
        if (part.length() > 18) {
            throw new InvalidSemanticVersionException(
                    "version '" + text + "': " + what + " version '" + part + "' is too large");
        }
        return Long.parseLong(part);
    }

    private static List<String> identifiers(
            String text, String dotted, String what, boolean numericLeadingZeroForbidden) {
        String[] ids = dotted.split("\\.", -1);
        for (String id : ids) {
            if (id.isEmpty()) {
                throw new InvalidSemanticVersionException(
                        "version '" + text + "': " + what + " has an empty identifier");
            }
            for (int i = 0; i < id.length(); i++) {
                char c = id.charAt(i);
                boolean allowed =
                        (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-';
                if (!allowed) {
                    throw new InvalidSemanticVersionException("version '" + text + "': " + what + " identifier '" + id
                            + "' may only contain ASCII letters, digits and '-'");
                }
            }
            if (numericLeadingZeroForbidden && isNumeric(id) && id.length() > 1 && id.charAt(0) == '0') {
                throw new InvalidSemanticVersionException(
                        "version '" + text + "': numeric " + what + " identifier '" + id + "' has a leading zero");
            }
        }
        return List.of(ids);
    }

    private static boolean isNumeric(String id) {
        return id.chars().allMatch(c -> c >= '0' && c <= '9');
    }

    private static String abbreviate(String text) {
        return text.length() <= 40 ? text : text.substring(0, 40) + "...";
    }

    public long major() {
        return major;
    }

    public long minor() {
        return minor;
    }

    public long patch() {
        return patch;
    }

    public List<String> preRelease() {
        return preRelease;
    }

    public List<String> build() {
        return build;
    }

    public boolean isPreRelease() {
        return !preRelease.isEmpty();
    }

    /** Precedence per semver.org section 11: build metadata is ignored; a pre-release sorts before its release. */
    @Override
    public int compareTo(SemanticVersion other) {
        int c = Long.compare(major, other.major);
        if (c == 0) c = Long.compare(minor, other.minor);
        if (c == 0) c = Long.compare(patch, other.patch);
        if (c != 0) return c;
        if (preRelease.isEmpty() || other.preRelease.isEmpty()) {
            return Boolean.compare(preRelease.isEmpty(), other.preRelease.isEmpty());
        }
        int n = Math.min(preRelease.size(), other.preRelease.size());
        for (int i = 0; i < n; i++) {
            c = compareIdentifier(preRelease.get(i), other.preRelease.get(i));
            if (c != 0) return c;
        }
        return Integer.compare(preRelease.size(), other.preRelease.size());
    }

    private static int compareIdentifier(String a, String b) {
        boolean an = isNumeric(a);
        boolean bn = isNumeric(b);
        if (an && bn) {
            // Numeric identifiers have no leading zeros, so a longer one is larger; equal lengths compare as text.
            return a.length() != b.length() ? Integer.compare(a.length(), b.length()) : a.compareTo(b);
        }
        if (an != bn) return an ? -1 : 1;
        return a.compareTo(b);
    }

    /** Equality is on the exact text, as the registry keys versions by it. */
    @Override
    public boolean equals(Object o) {
        return o instanceof SemanticVersion v && text.equals(v.text);
    }

    @Override
    public int hashCode() {
        return Objects.hash(text);
    }

    @Override
    public String toString() {
        return text;
    }
}
