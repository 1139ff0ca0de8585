package dev.anvil.experiments.domain;

import java.util.Locale;

/** The rating scale of a piece of feedback: thumbs (-1, 0, +1) or stars (1 to 5). */
public enum FeedbackScale {
    THUMBS(-1, 1),
    STARS(1, 5);

    private final int min;
    private final int max;

    FeedbackScale(int min, int max) {
        this.min = min;
        this.max = max;
    }

    public int min() {
        return min;
    }

    public int max() {
        return max;
    }

    /** Whether {@code rating} on this scale counts as negative feedback: thumbs down, or one or two stars. */
    public boolean isNegative(int rating) {
        return this == THUMBS ? rating < 0 : rating <= 2;
    }

    public static FeedbackScale parse(String text) {
        if (text == null || text.isBlank()) return THUMBS;
        return switch (text.strip().toLowerCase(Locale.ROOT)) {
            case "thumbs" -> THUMBS;
            case "stars" -> STARS;
            default -> throw new InvalidExperimentException("scale", "unknown scale '" + text + "' (thumbs or stars)");
        };
    }
}
