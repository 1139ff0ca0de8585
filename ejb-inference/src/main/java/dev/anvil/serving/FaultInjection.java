package dev.anvil.serving;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The parsed {@code anvil.serving.fault-injection} setting: per {@code name@version}, a delay before each request
 * is queued or a refusal. Test-only (rehearsing canary rollbacks with a deliberately bad version); empty by default.
 */
public final class FaultInjection {

    /** What to do to requests of one version: hold them {@code delayMs} before queueing, or {@code fail} them. */
    public record Fault(long delayMs, boolean fail) {}

    private static final FaultInjection NONE = new FaultInjection(Map.of());

    private final Map<String, Fault> faults;

    private FaultInjection(Map<String, Fault> faults) {
        this.faults = faults;
    }

    public static FaultInjection none() {
        return NONE;
    }

    /**
     * Parses entries {@code name@version=delay-ms:N} or {@code name@version=fail}.
     *
     * @throws IllegalArgumentException naming the bad entry
     */
    public static FaultInjection parse(List<String> entries) {
        if (entries == null || entries.isEmpty()) return NONE;
        Map<String, Fault> map = new HashMap<>();
        for (String raw : entries) {
            String entry = raw.trim();
            if (entry.isEmpty()) continue;
            int eq = entry.indexOf('=');
            String ref = eq < 0 ? "" : entry.substring(0, eq).trim();
            String what = eq < 0 ? "" : entry.substring(eq + 1).trim();
            if (ref.indexOf('@') <= 0 || ref.endsWith("@")) {
                throw new IllegalArgumentException("anvil.serving.fault-injection entry '" + entry
                        + "' must start with name@version= (e.g. chat@2.0.0=delay-ms:1500 or chat@2.0.0=fail)");
            }
            if (what.equals("fail")) {
                map.put(ref, new Fault(0, true));
            } else if (what.startsWith("delay-ms:")) {
                long ms;
                try {
                    ms = Long.parseLong(what.substring("delay-ms:".length()).trim());
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(
                            "anvil.serving.fault-injection entry '" + entry + "': the delay is not a number");
                }
                if (ms < 0 || ms > 600_000) {
                    throw new IllegalArgumentException(
                            "anvil.serving.fault-injection entry '" + entry + "': delay must be 0..600000 ms");
                }
                map.put(ref, new Fault(ms, false));
            } else {
                throw new IllegalArgumentException("anvil.serving.fault-injection entry '" + entry
                        + "': the fault must be 'fail' or 'delay-ms:N'");
            }
        }
        return new FaultInjection(Map.copyOf(map));
    }

    /** The fault configured for {@code name@version}, or null. */
    public Fault forVersion(String ref) {
        return faults.get(ref);
    }

    public boolean isEmpty() {
        return faults.isEmpty();
    }
}
