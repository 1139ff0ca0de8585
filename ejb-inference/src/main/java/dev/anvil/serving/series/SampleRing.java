package dev.anvil.serving.series;

import java.util.ArrayList;
import java.util.List;
import java.util.function.ToLongFunction;

/**
 * The last {@code capacity} samples of one series, oldest overwritten first. Writes come from one sampling thread,
 * reads from any request thread: both take the ring's lock, which is held for a copy of at most {@code capacity}
 * references, so a reader never sees a half-written slot and never blocks the sampler for long.
 */
public final class SampleRing<T> {

    private final Object[] slots;
    private final ToLongFunction<T> timeOf;
    /** Next slot to write; {@code size} slots before it (wrapping) hold samples. */
    private int next;

    private int size;

    /** @param timeOf the sample's time (epoch milliseconds), which {@link #since} filters on */
    public SampleRing(int capacity, ToLongFunction<T> timeOf) {
        if (capacity < 1) throw new IllegalArgumentException("capacity must be >= 1, got " + capacity);
        this.slots = new Object[capacity];
        this.timeOf = timeOf;
    }

    public synchronized void add(T sample) {
        slots[next] = sample;
        next = (next + 1) % slots.length;
        if (size < slots.length) size++;
    }

    public int capacity() {
        return slots.length;
    }

    public synchronized int size() {
        return size;
    }

    /** The newest sample, or null when there is none. */
    @SuppressWarnings("unchecked")
    public synchronized T latest() {
        return size == 0 ? null : (T) slots[(next - 1 + slots.length) % slots.length];
    }

    /** Every sample, oldest first. */
    public List<T> all() {
        return since(Long.MIN_VALUE);
    }

    /** The samples taken strictly after {@code epochMillis}, oldest first (a client polling passes its newest time). */
    @SuppressWarnings("unchecked")
    public synchronized List<T> since(long epochMillis) {
        List<T> out = new ArrayList<>(size);
        int first = (next - size + slots.length) % slots.length;
        for (int i = 0; i < size; i++) {
            T sample = (T) slots[(first + i) % slots.length];
            if (timeOf.applyAsLong(sample) > epochMillis) out.add(sample);
        }
        return out;
    }
}
