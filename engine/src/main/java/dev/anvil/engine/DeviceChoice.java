package dev.anvil.engine;

import java.util.Locale;

/**
 * Where a model's forward pass runs, as a server's configuration names it: {@code auto} (a CUDA device when a driver
 * and a device are present, else the CPU), {@code cpu}, {@code cuda} (any CUDA device, placed by free memory) or
 * {@code cuda:N} (device N).
 *
 * @param kind    which of the four forms
 * @param ordinal the device of {@code cuda:N}; -1 otherwise
 */
public record DeviceChoice(Kind kind, int ordinal) {

    public enum Kind {
        AUTO,
        CPU,
        CUDA
    }

    public static final DeviceChoice AUTO = new DeviceChoice(Kind.AUTO, -1);
    public static final DeviceChoice CPU = new DeviceChoice(Kind.CPU, -1);

    public DeviceChoice {
        if (kind == null) throw new IllegalArgumentException("kind is null");
        if (ordinal < -1 || (ordinal >= 0 && kind != Kind.CUDA))
            throw new IllegalArgumentException("a device number goes with cuda only: " + kind + ":" + ordinal);
    }

    /**
     * Reads {@code auto}, {@code cpu}, {@code cuda} or {@code cuda:N} (case-insensitive, N a device number below 64).
     *
     * @throws IllegalArgumentException naming the accepted forms
     */
    public static DeviceChoice parse(String text) {
        String s = text == null ? "" : text.strip().toLowerCase(Locale.ROOT);
        switch (s) {
            case "auto":
                return AUTO;
            case "cpu":
                return CPU;
            case "cuda":
                return new DeviceChoice(Kind.CUDA, -1);
            default:
                if (s.startsWith("cuda:") && s.length() > 5 && s.length() <= 7) {
                    String n = s.substring(5);
                    if (n.chars().allMatch(Character::isDigit) && Integer.parseInt(n) < 64)
                        return new DeviceChoice(Kind.CUDA, Integer.parseInt(n));
                }
                throw new IllegalArgumentException(
                        "device '" + text + "' is not one of auto, cpu, cuda, cuda:N (N a device number, 0..63)");
        }
    }

    @Override
    public String toString() {
        return kind == Kind.CUDA && ordinal >= 0
                ? "cuda:" + ordinal
                : kind.name().toLowerCase(Locale.ROOT);
    }
}
