package dev.anvil.registry;

/**
 * Fired by {@link ModelRegistry#changeStage} for every stage transition it made. Observers that act on the
 * new state (the serving tier loading a new PRODUCTION version) should observe it
 * {@code during = TransactionPhase.AFTER_SUCCESS}, so they only see committed changes.
 *
 * @param model   model name
 * @param version the version that moved
 * @param from    its previous stage name
 * @param to      its new stage name
 */
public record ModelStageChanged(String model, String version, String from, String to) {}
