package dev.anvil.engine;

/**
 * How far a load has read a model's weights: told, on the loading thread, the bytes of tensor data read so far and
 * the total, first with {@code 0} read and last with {@code read == total}. The loader reads the mapped file in
 * bounded chunks ({@link ModelLoader#READ_CHUNK_BYTES}), so a multi-gigabyte tensor still reports as it goes.
 */
@FunctionalInterface
public interface LoadProgress {

    /** Reports nothing. */
    LoadProgress NONE = (read, total) -> {};

    void weightsRead(long bytesRead, long bytesTotal);
}
