package dev.anvil.engine;

import java.util.Locale;

/**
 * Where a loaded model runs, decided from the configured {@link DeviceChoice}, what the accelerator's probe found and
 * what the model needs on a device: {@code cpu} always runs on the CPU; {@code auto} takes the CUDA device with the
 * most free memory that holds the model and falls back to the CPU, saying why, when there is no backend, no driver,
 * no device or no room; {@code cuda} and {@code cuda:N} never fall back: a model that cannot run there is refused
 * at load with the reason.
 */
public final class DevicePlacement {

    private DevicePlacement() {}

    /**
     * @param device the CUDA device, or -1 for the CPU
     * @param reason why, for the log, {@code /health} and {@code /metrics}
     */
    public record Decision(int device, String reason) {
        public boolean cpu() {
            return device < 0;
        }

        /** {@code cpu} or {@code cuda:N}. */
        public String deviceName() {
            return cpu() ? "cpu" : "cuda:" + device;
        }
    }

    /**
     * @param probe       the CUDA backend's probe, or null when no backend is on the class path
     * @param bytesNeeded device bytes the model needs (weights, KV cache, activations)
     * @throws IllegalStateException for {@code cuda}/{@code cuda:N} when the model cannot be placed, with the reason
     */
    public static Decision decide(DeviceChoice choice, Accelerator.Probe probe, long bytesNeeded) {
        if (choice.kind() == DeviceChoice.Kind.CPU) return new Decision(-1, "anvil.serving.device=cpu");
        boolean auto = choice.kind() == DeviceChoice.Kind.AUTO;
        String unavailable = probe == null
                ? "no CUDA backend (anvil-engine-cuda) on the class path"
                : probe.available() ? null : "no usable CUDA device: " + probe.problem();
        if (unavailable != null) {
            if (auto) return new Decision(-1, "auto chose the CPU: " + unavailable);
            throw new IllegalStateException("anvil.serving.device=" + choice + " but " + unavailable);
        }
        Accelerator.Device best = null;
        for (Accelerator.Device d : probe.devices()) {
            if (choice.ordinal() >= 0 && d.ordinal() != choice.ordinal()) continue;
            if (d.freeBytes() >= bytesNeeded && (best == null || d.freeBytes() > best.freeBytes())) best = d;
        }
        if (best != null) {
            return new Decision(
                    best.ordinal(),
                    String.format(
                            Locale.ROOT,
                            "%s chose cuda:%d (%s): %s free, the model needs %s",
                            choice,
                            best.ordinal(),
                            best.name(),
                            mib(best.freeBytes()),
                            mib(bytesNeeded)));
        }
        StringBuilder why = new StringBuilder();
        if (choice.ordinal() >= 0 && probe.devices().stream().noneMatch(d -> d.ordinal() == choice.ordinal())) {
            why.append("there is no device ").append(choice.ordinal()).append(" (devices: ");
            why.append(probe.devices().size()).append(')');
        } else {
            why.append("the model needs ").append(mib(bytesNeeded)).append(" and no device has that free (");
            for (Accelerator.Device d : probe.devices()) {
                if (choice.ordinal() >= 0 && d.ordinal() != choice.ordinal()) continue;
                if (why.charAt(why.length() - 1) != '(') why.append(", ");
                why.append("cuda:").append(d.ordinal()).append(' ').append(mib(d.freeBytes()));
            }
            why.append(')');
        }
        if (auto) return new Decision(-1, "auto chose the CPU: " + why);
        throw new IllegalStateException("cannot place the model on " + choice + ": " + why);
    }

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
    }
}
