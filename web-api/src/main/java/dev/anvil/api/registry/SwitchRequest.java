package dev.anvil.api.registry;

import org.eclipse.microprofile.openapi.annotations.media.Schema;

/** Body of {@code POST /api/registry/models/{name}/switch}. */
@Schema(
        name = "BlueGreenSwitchRequest",
        description = "Makes a version the model's PRODUCTION version at once; the version it "
                + "replaces moves to STAGING and stays loaded as the standby (switch back by naming it)")
public record SwitchRequest(
        @Schema(required = true, description = "The version to serve, e.g. 2.0.0 (loaded first if it is not)")
        String version,

        @Schema(description = "Why; recorded in the history")
        String reason) {}
