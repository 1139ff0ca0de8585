package dev.anvil.config;

/**
 * The lower bound of a configured number, checked and worded in one way wherever a setting is read: a value out of
 * range fails with {@code "<name> must be >= <min>, got <value>"}, naming the setting so that an operator can find it.
 */
public final class ConfigBounds {

    private ConfigBounds() {}

    /**
     * @return {@code value}, when it is at least {@code min}
     * @throws IllegalArgumentException naming the setting, the bound and the value, when it is not
     */
    public static long atLeast(String name, long value, long min) {
        if (value < min) throw new IllegalArgumentException(name + " must be >= " + min + ", got " + value);
        return value;
    }

    /** {@link #atLeast(String, long, long)} for an int setting. */
    public static int atLeast(String name, int value, int min) {
        return (int) atLeast(name, (long) value, (long) min);
    }

    /**
     * @return {@code value}, when it is in [{@code min}, {@code max}]
     * @throws IllegalArgumentException naming the setting, the range and the value, when it is not
     */
    public static long within(String name, long value, long min, long max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(name + " must be in [" + min + ", " + max + "], got " + value);
        }
        return value;
    }

    /** {@link #within(String, long, long, long)} for an int setting. */
    public static int within(String name, int value, int min, int max) {
        return (int) within(name, (long) value, (long) min, (long) max);
    }
}
