package dev.anvil.registry;

import java.util.List;

/**
 * The outcome of a stage change: the version as it is now, and every transition the change made, in order
 * (a promotion to PRODUCTION lists the archiving of the previous PRODUCTION version first).
 */
public record StageChangeResult(ModelVersionInfo version, List<TransitionInfo> transitions) {}
