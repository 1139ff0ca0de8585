package dev.anvil.registry;

import dev.anvil.registry.domain.Model;
import java.time.Instant;
import java.util.List;

/**
 * A snapshot of a model for callers outside the transaction (entities would be detached there).
 *
 * @param productionVersion the version now in PRODUCTION, or null
 */
public record ModelInfo(
        String name,
        String description,
        String owner,
        List<String> tags,
        Instant createdAt,
        String createdBy,
        int versionCount,
        String productionVersion) {

    static ModelInfo of(Model model, int versionCount, String productionVersion) {
        return new ModelInfo(
                model.name(),
                model.description(),
                model.owner(),
                List.copyOf(model.tags()),
                model.createdAt(),
                model.createdBy(),
                versionCount,
                productionVersion);
    }
}
