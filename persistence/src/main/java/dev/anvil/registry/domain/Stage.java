package dev.anvil.registry.domain;

import java.util.EnumSet;
import java.util.Set;

/**
 * Lifecycle stage of a model version. A new version starts in {@link #NONE}. Allowed moves:
 * <pre>
 *   NONE       -> STAGING, PRODUCTION, ARCHIVED
 *   STAGING    -> PRODUCTION, ARCHIVED, NONE
 *   PRODUCTION -> ARCHIVED, STAGING
 *   ARCHIVED   -> STAGING
 * </pre>
 * An archived version has to pass through STAGING again before it can serve production traffic, so a
 * retired artifact is never put back in front of users by a single call.
 */
public enum Stage {
    NONE,
    STAGING,
    PRODUCTION,
    ARCHIVED;

    public Set<Stage> successors() {
        return switch (this) {
            case NONE -> EnumSet.of(STAGING, PRODUCTION, ARCHIVED);
            case STAGING -> EnumSet.of(PRODUCTION, ARCHIVED, NONE);
            case PRODUCTION -> EnumSet.of(ARCHIVED, STAGING);
            case ARCHIVED -> EnumSet.of(STAGING);
        };
    }

    public boolean canMoveTo(Stage target) {
        return successors().contains(target);
    }

    /** Parses a client-given stage name, case-insensitively; unknown names get an error listing the valid ones. */
    public static Stage parse(String name) {
        if (name == null || name.isBlank()) {
            throw new InvalidRegistryFieldException(
                    "stage", "stage is required (one of NONE, STAGING, PRODUCTION, ARCHIVED)");
        }
        for (Stage s : values()) {
            if (s.name().equalsIgnoreCase(name.trim())) return s;
        }
        throw new InvalidRegistryFieldException(
                "stage", "unknown stage '" + name + "' (one of NONE, STAGING, PRODUCTION, ARCHIVED)");
    }
}
