package dev.anvil.api.registry;

import java.util.List;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

/** List envelopes: {@code {"data":[...]}}, leaving room for paging fields without breaking clients. */
final class Listings {

    private Listings() {}

    @Schema(name = "RegistryModelList")
    public record Models(@Schema(required = true) List<ModelJson> data) {}

    @Schema(name = "RegistryModelVersionList")
    public record Versions(@Schema(required = true) List<ModelVersionJson> data) {}

    @Schema(name = "RegistryStageHistory")
    public record History(
            @Schema(required = true, description = "Stage changes, oldest first")
            List<TransitionJson> data,

            @Schema(
                    required = true,
                    description = "Other events of the versions (drift detected or cleared, drift reference "
                            + "pinned), oldest first")
            List<VersionEventJson> events) {}
}
