package dev.anvil.serving.chat;

import dev.anvil.config.ConfigBounds;

/**
 * What one rendering of a chat template may cost. A template comes from a model file, which is third-party input:
 * a loop nest, a string or list that doubles, or deep nesting must end the render with an error instead of
 * holding a request thread or filling the heap. Every bound is checked while the template runs (see
 * {@link RenderBudget}); the first one crossed fails that render.
 *
 * @param timeoutMillis      wall-clock time of one render
 * @param maxSteps           template nodes rendered (every loop iteration renders its body's nodes again), filter
 *                           calls and method calls of one render
 * @param maxOutputChars     characters of the rendered prompt and of any one string the template builds; also the
 *                           largest number a filter may take as an argument (a width or count)
 * @param maxCollectionSize  elements of any list or dict the template builds (counted through nested ones), and of
 *                           {@code range(...)}
 * @param maxAllocatedBytes  heap the rendering thread may allocate during one render (0: not checked); catches
 *                           growth that no other bound sees, such as a list doubling inside one expression
 * @param maxDepth           nesting of template constructs being rendered at once (loops in macros in conditions...)
 */
public record ChatTemplateLimits(
        long timeoutMillis,
        long maxSteps,
        int maxOutputChars,
        int maxCollectionSize,
        long maxAllocatedBytes,
        int maxDepth) {

    /** MicroProfile Config keys of the limits (read by {@code dev.anvil.serving.ServingConfig}; named in errors). */
    public static final String TIMEOUT_MS = "anvil.serving.chat-template.timeout-ms";

    public static final String MAX_STEPS = "anvil.serving.chat-template.max-steps";
    public static final String MAX_OUTPUT_CHARS = "anvil.serving.chat-template.max-output-chars";
    public static final String MAX_COLLECTION_SIZE = "anvil.serving.chat-template.max-collection-size";
    public static final String MAX_ALLOCATED_BYTES = "anvil.serving.chat-template.max-allocated-bytes";
    public static final String MAX_DEPTH = "anvil.serving.chat-template.max-depth";

    /** The defaults of those keys (annotation values of ServingConfig, and {@link #DEFAULT}): one place. */
    public static final String DEFAULT_TIMEOUT_MS = "2000";

    public static final String DEFAULT_MAX_STEPS = "5000000";
    public static final String DEFAULT_MAX_OUTPUT_CHARS = "8388608";
    public static final String DEFAULT_MAX_COLLECTION_SIZE = "100000";
    public static final String DEFAULT_MAX_ALLOCATED_BYTES = "268435456";
    public static final String DEFAULT_MAX_DEPTH = "200";

    /** Generous for real chat templates (which render in milliseconds), tight enough to stop hostile ones quickly. */
    public static final ChatTemplateLimits DEFAULT = new ChatTemplateLimits(
            Long.parseLong(DEFAULT_TIMEOUT_MS),
            Long.parseLong(DEFAULT_MAX_STEPS),
            Integer.parseInt(DEFAULT_MAX_OUTPUT_CHARS),
            Integer.parseInt(DEFAULT_MAX_COLLECTION_SIZE),
            Long.parseLong(DEFAULT_MAX_ALLOCATED_BYTES),
            Integer.parseInt(DEFAULT_MAX_DEPTH));

    public ChatTemplateLimits {
        ConfigBounds.atLeast(TIMEOUT_MS, timeoutMillis, 1);
        ConfigBounds.atLeast(MAX_STEPS, maxSteps, 1);
        ConfigBounds.atLeast(MAX_OUTPUT_CHARS, maxOutputChars, 1);
        ConfigBounds.atLeast(MAX_COLLECTION_SIZE, maxCollectionSize, 1);
        ConfigBounds.atLeast(MAX_ALLOCATED_BYTES, maxAllocatedBytes, 0);
        // Below 8 a real template's own nesting (a loop, a condition, a macro call) would already fail.
        ConfigBounds.atLeast(MAX_DEPTH, maxDepth, 8);
    }
}
