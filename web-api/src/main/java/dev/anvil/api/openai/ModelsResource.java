package dev.anvil.api.openai;

import dev.anvil.api.AnvilApplication;
import dev.anvil.api.security.ApiKeyAccess;
import dev.anvil.serving.ServedModel;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/** {@code GET /v1/models}: the models being served (one entry per model name, its PRODUCTION version). */
@Path("/v1/models")
@ApiKeyAccess
@SecurityRequirement(name = AnvilApplication.API_KEY_SECURITY)
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "openai", description = "OpenAI-compatible inference API")
public class ModelsResource {

    @Inject
    ServedModels models;

    @Inject
    dev.anvil.routing.RouterDirectory routers;

    @Inject
    dev.anvil.api.gateway.CallerContext caller;

    /** The {@code owned_by} of a cost-aware router's entry: it is answered by the models it routes to. */
    static final String ROUTER_OWNER = "anvil-router";

    @GET
    @Operation(summary = "List the models being served")
    public OpenAiJson.ModelList list() {
        List<OpenAiJson.Model> data = new java.util.ArrayList<>(
                models.visible().stream().map(ModelsResource::json).toList());
        // Cost-aware routers are model names too (of the caller's scope, like the models).
        var key = caller.key();
        for (String router : routers.names()) {
            if (key == null || key.allows(router)) data.add(new OpenAiJson.Model(router, "model", 0, ROUTER_OWNER));
        }
        return new OpenAiJson.ModelList("list", data);
    }

    @GET
    @Path("{id: .+}")
    @Operation(summary = "Describe one model being served", description = "id is a model name or name@version")
    public OpenAiJson.Model get(@PathParam("id") String id) {
        if (routers.router(id) != null) {
            caller.requireModel(id);
            return new OpenAiJson.Model(id, "model", 0, ROUTER_OWNER);
        }
        ServedModel model = models.resolve(id, "prompt");
        return id.contains("@")
                ? new OpenAiJson.Model(model.ref(), "model", created(model), model.owner())
                : json(model);
    }

    static OpenAiJson.Model json(ServedModel model) {
        return new OpenAiJson.Model(model.name(), "model", created(model), model.owner());
    }

    private static long created(ServedModel model) {
        return model.createdAt() == null ? 0 : model.createdAt().getEpochSecond();
    }
}
