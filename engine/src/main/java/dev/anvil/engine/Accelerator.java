package dev.anvil.engine;

import java.util.List;
import java.util.Optional;
import java.util.ServiceLoader;

/**
 * A device the forward pass can run on besides the CPU, plugged in through {@link ServiceLoader} so that the engine
 * module has no native dependency: the CUDA backend (module engine-cuda) provides one. {@link #probe} says which
 * devices are usable, or why none is; {@link #open} uploads a loaded model's weights to one of them and returns
 * the {@link DeviceBackend} that {@link LlamaModel#attach} runs the model's forward passes through.
 */
public interface Accelerator {

    /** What the configuration calls it, e.g. {@code cuda}. */
    String name();

    /** The usable devices now, or the reason there are none (no driver, no device); never throws. */
    Probe probe();

    /**
     * Uploads {@code model}'s weights to device {@code device} and sizes a device KV cache for {@code pool} (the pool
     * the model's scheduler allocates blocks from: its block ids index the device cache).
     *
     * @throws IllegalStateException when the weights and KV cache do not fit in the device's free memory
     */
    DeviceBackend open(LlamaModel model, int device, KvCachePool pool);

    /** Bytes a model of these weights would take on a device with a KV pool of {@code pool}'s geometry. */
    long bytesNeeded(LlamaModel model, KvCachePool pool);

    /**
     * One device.
     *
     * @param totalBytes its memory
     * @param freeBytes  its memory free when probed
     */
    record Device(int ordinal, String name, int computeMajor, int computeMinor, long totalBytes, long freeBytes) {}

    /**
     * Result of {@link #probe}: the devices, or an empty list and why.
     *
     * @param problem null when devices were found, else what failed (native library, driver, no device)
     */
    record Probe(List<Device> devices, String problem) {
        public Probe {
            devices = List.copyOf(devices);
        }

        public boolean available() {
            return !devices.isEmpty();
        }
    }

    /** The accelerator of this name on the class path, if any. */
    static Optional<Accelerator> find(String name) {
        for (Accelerator a : ServiceLoader.load(Accelerator.class, Accelerator.class.getClassLoader()))
            if (a.name().equals(name)) return Optional.of(a);
        return Optional.empty();
    }
}
