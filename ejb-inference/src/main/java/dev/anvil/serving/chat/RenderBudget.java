package dev.anvil.serving.chat;

import java.lang.management.ManagementFactory;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * The limits of one template render as it runs, on the rendering thread. Jinjava calls {@link #enter()} before and
 * {@link #exit(Object)} after every template node it renders, and Anvil's filter and method wrappers call
 * {@link #step()} and {@link #checkValue}; each call compares the render with its {@link ChatTemplateLimits}.
 *
 * <p>The first limit crossed marks the budget failed and throws {@link LimitExceeded}. Jinjava catches exceptions in
 * many places (an expression that throws becomes an error and rendering goes on), so the failure is sticky: every
 * later check throws again, which unwinds the render within a few nodes, and the caller reads {@link #failure()}
 * afterwards whatever Jinjava made of the exception. Nothing here can interrupt a single Java call in progress, which
 * is why the filters and methods a template may call are bounded one by one (see {@link TemplateEngine}).
 */
final class RenderBudget implements AutoCloseable {

    private static final ThreadLocal<RenderBudget> CURRENT = new ThreadLocal<>();
    /** Allocated-bytes probes are cheap but not free: one per this many steps. */
    private static final int ALLOCATION_CHECK_EVERY = 16;
    /** Elements visited by {@link #checkValue} between clock readings. */
    private static final int VISITS_PER_CLOCK_CHECK = 4096;

    private static final com.sun.management.ThreadMXBean THREADS = allocationCounter();

    private final ChatTemplateLimits limits;
    private final long deadline;
    private final long allocationBaseline;
    private final RenderBudget previous;
    private long steps;
    private int depth;
    private String failure;
    /**
     * The sequences of the for loops being rendered, innermost last, for {@code loop.previtem}/{@code loop.nextitem};
     * null when the template reads neither (then no loop's sequence is evaluated a second time).
     */
    private final ArrayDeque<List<?>> loopItems;

    private RenderBudget(ChatTemplateLimits limits, RenderBudget previous, boolean tracksLoopNeighbours) {
        this.limits = limits;
        this.previous = previous;
        this.loopItems = tracksLoopNeighbours ? new ArrayDeque<>() : null;
        this.deadline = System.nanoTime() + limits.timeoutMillis() * 1_000_000L;
        this.allocationBaseline = allocatedBytes();
    }

    /**
     * Starts the budget of a render on this thread; close it when the render is over.
     *
     * @param tracksLoopNeighbours whether the template reads {@code loop.previtem} or {@code loop.nextitem}
     */
    static RenderBudget open(ChatTemplateLimits limits, boolean tracksLoopNeighbours) {
        RenderBudget budget = new RenderBudget(limits, CURRENT.get(), tracksLoopNeighbours);
        CURRENT.set(budget);
        return budget;
    }

    /** The budget of the render running on this thread, or null outside one. */
    static RenderBudget current() {
        return CURRENT.get();
    }

    @Override
    public void close() {
        if (previous == null) CURRENT.remove();
        else CURRENT.set(previous);
    }

    ChatTemplateLimits limits() {
        return limits;
    }

    /** Whether this render keeps the loops' sequences ({@link #enterLoop}). */
    boolean tracksLoopNeighbours() {
        return loopItems != null;
    }

    /** A for loop over {@code items} starts (only while {@link #tracksLoopNeighbours()}). */
    void enterLoop(List<?> items) {
        loopItems.addLast(items);
    }

    /** The innermost for loop ended. */
    void exitLoop() {
        loopItems.pollLast();
    }

    /** The sequence of the innermost for loop being rendered, or null. */
    List<?> innermostLoopItems() {
        return loopItems == null ? null : loopItems.peekLast();
    }

    /** Why the render was stopped, or null while it is within its limits. */
    String failure() {
        return failure;
    }

    /** Thrown at the first limit crossed, and at every check after it. */
    static final class LimitExceeded extends RuntimeException {
        LimitExceeded(String message) {
            super(message, null, false, false);
        }
    }

    /** Records that the render must stop (keeping the first reason) and throws. */
    LimitExceeded fail(String reason) {
        if (failure == null) failure = reason;
        throw new LimitExceeded(failure);
    }

    /** Records that the render must stop, without throwing (for failures caught outside Jinjava). */
    void failQuietly(String reason) {
        if (failure == null) failure = reason;
    }

    /** One unit of work: a node, a filter call, a method call. */
    void step() {
        if (failure != null) throw new LimitExceeded(failure);
        if (++steps > limits.maxSteps()) {
            fail("it ran more than " + limits.maxSteps() + " steps (" + ChatTemplateLimits.MAX_STEPS + ")");
        }
        checkClock();
        if (steps % ALLOCATION_CHECK_EVERY == 0) checkAllocation();
    }

    /** A node starts rendering: one step, one level deeper. */
    void enter() {
        step();
        if (++depth > limits.maxDepth()) {
            fail("its constructs nest deeper than " + limits.maxDepth() + " (" + ChatTemplateLimits.MAX_DEPTH + ")");
        }
    }

    /** A node finished rendering (normally or not); {@code assigned} is what it stored in a variable, or null. */
    void exit(Object assigned) {
        depth--;
        if (failure == null && assigned != null) checkValue(assigned, "a variable");
    }

    private void checkClock() {
        if (System.nanoTime() - deadline > 0) {
            fail("it ran longer than " + limits.timeoutMillis() + " ms (" + ChatTemplateLimits.TIMEOUT_MS + ")");
        }
    }

    private void checkAllocation() {
        if (limits.maxAllocatedBytes() == 0 || allocationBaseline < 0) return;
        long allocated = allocatedBytes() - allocationBaseline;
        if (allocated > limits.maxAllocatedBytes()) {
            fail("it allocated more than " + limits.maxAllocatedBytes() + " bytes of memory ("
                    + ChatTemplateLimits.MAX_ALLOCATED_BYTES + ")");
        }
    }

    /** Fails when a string the template made is longer than the output limit. */
    void checkString(int length, String what) {
        if (length > limits.maxOutputChars()) {
            fail(what + " would be " + length + " characters, more than " + limits.maxOutputChars() + " ("
                    + ChatTemplateLimits.MAX_OUTPUT_CHARS + ")");
        }
    }

    /**
     * Fails when {@code value} is too big: more than max-collection-size elements or max-output-chars characters in
     * all (every nested list, dict and string counted, a shared one as often as it is reachable, since that is how
     * often printing it would copy it), or nested deeper than max-depth. Iterative, so a deep value cannot overflow
     * the stack here.
     */
    void checkValue(Object value, String what) {
        if (!(value instanceof Collection<?> || value instanceof Map<?, ?> || value instanceof Object[])) {
            if (value instanceof CharSequence s) checkString(s.length(), what);
            return;
        }
        ArrayDeque<Object> pending = new ArrayDeque<>();
        ArrayDeque<Integer> depths = new ArrayDeque<>();
        pending.push(value);
        depths.push(0);
        long elements = 0, chars = 0, visits = 0;
        while (!pending.isEmpty()) {
            Object v = pending.pop();
            int d = depths.pop();
            if (++visits % VISITS_PER_CLOCK_CHECK == 0) checkClock();
            if (v instanceof CharSequence s) {
                chars += s.length();
                if (chars > limits.maxOutputChars()) {
                    fail(what + " holds more than " + limits.maxOutputChars() + " characters ("
                            + ChatTemplateLimits.MAX_OUTPUT_CHARS + ")");
                }
                continue;
            }
            Iterable<?> children;
            if (v instanceof Collection<?> c) children = c;
            else if (v instanceof Map<?, ?> m) children = m.entrySet();
            else if (v instanceof Map.Entry<?, ?> e) children = java.util.Arrays.asList(e.getKey(), e.getValue());
            else if (v instanceof Object[] a) children = java.util.Arrays.asList(a);
            else continue;
            if (d >= limits.maxDepth()) {
                fail(what + " nests deeper than " + limits.maxDepth() + " (" + ChatTemplateLimits.MAX_DEPTH + ")");
            }
            for (Object child : children) {
                if (!(v instanceof Map.Entry<?, ?>) && ++elements > limits.maxCollectionSize()) {
                    fail(what + " holds more than " + limits.maxCollectionSize() + " elements ("
                            + ChatTemplateLimits.MAX_COLLECTION_SIZE + ")");
                }
                if (child != null) {
                    pending.push(child);
                    depths.push(d + 1);
                }
            }
        }
    }

    private static long allocatedBytes() {
        return THREADS == null ? -1 : THREADS.getCurrentThreadAllocatedBytes();
    }

    private static com.sun.management.ThreadMXBean allocationCounter() {
        if (ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean threads
                && threads.isThreadAllocatedMemorySupported()) {
            if (!threads.isThreadAllocatedMemoryEnabled()) return null; // switched off for this JVM: bound not checked
            return threads;
        }
        return null;
    }
}
