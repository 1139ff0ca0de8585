package dev.anvil.api.registry;

import dev.anvil.registry.StageChangeResult;
import jakarta.json.bind.annotation.JsonbPropertyOrder;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

/** The result of a stage change: the version now, and every transition the change made. */
@Schema(
        name = "RegistryStageChange",
        description = "A version after a stage change, with the transitions it caused "
                + "(promoting to PRODUCTION first archives the previous PRODUCTION version)")
@JsonbPropertyOrder({"version", "transitions"})
public record StageChangeJson(
        @Schema(required = true) ModelVersionJson version,
        @Schema(required = true) List<TransitionJson> transitions) {

    static StageChangeJson of(StageChangeResult r) {
        return new StageChangeJson(
                ModelVersionJson.of(r.version()),
                r.transitions().stream().map(TransitionJson::of).toList());
    }
}
