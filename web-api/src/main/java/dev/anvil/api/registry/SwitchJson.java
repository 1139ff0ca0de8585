package dev.anvil.api.registry;

import dev.anvil.routing.BlueGreenSwitch;
import jakarta.json.bind.annotation.JsonbNillable;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

/** The result of a blue-green switch. */
@Schema(
        name = "BlueGreenSwitch",
        description = "A blue-green switch: the version now serving, the one it replaced (kept loaded "
                + "as standby), and the registry transitions made")
@JsonbNillable
public record SwitchJson(
        String model,
        @Schema(required = true) String serving,
        @Schema(nullable = true) String standby,
        @Schema(required = true) List<TransitionJson> transitions) {

    static SwitchJson of(BlueGreenSwitch.Result r) {
        return new SwitchJson(
                r.model(),
                r.toVersion(),
                r.standby(),
                r.registry().transitions().stream().map(TransitionJson::of).toList());
    }
}
