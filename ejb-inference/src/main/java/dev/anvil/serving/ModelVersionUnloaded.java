package dev.anvil.serving;

/**
 * Fired by {@link ModelRuntimes} when a loaded model version has stopped (drained and unloaded: replaced by a
 * promotion, evicted as an idle extra, or stopped with the application).
 *
 * @param model   model name
 * @param version the version that was unloaded
 */
public record ModelVersionUnloaded(String model, String version) {}
