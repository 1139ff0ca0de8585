package dev.anvil.experiments;

/** CDI event: an experiment was created or changed status or weights (fired in the changing transaction). */
public record ExperimentsChanged(String experiment) {}
