package dev.anvil.engine;

/**
 * A model's forward pass on a device (see {@link Accelerator#open}): the engine checks and flattens each batch
 * exactly as for the CPU ({@link LlamaModel#forward}), the backend computes every layer on the device, writes the
 * batch's keys and values into its device KV cache at the blocks of the scheduler's tables, and returns the wanted
 * logits. Sampling, the scheduler and the pool's accounting stay on the host, unchanged.
 */
public interface DeviceBackend extends AutoCloseable {

    /** Logits of {@code batch.logitRows()}, row after row ({@code logitRows.length * vocab} floats). */
    float[] forward(DeviceBatch batch);

    /** e.g. {@code cuda:0 (NVIDIA H100 80GB HBM3)}. */
    String description();

    /** Device ordinal. */
    int device();

    /** Bytes of weights on the device. */
    long weightBytes();

    /** Bytes of KV cache on the device. */
    long kvBytes();

    /** Frees the device memory. */
    @Override
    void close();
}
