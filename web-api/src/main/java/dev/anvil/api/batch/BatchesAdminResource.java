package dev.anvil.api.batch;

import dev.anvil.api.AnvilApplication;
import dev.anvil.api.ApiException;
import dev.anvil.batch.BatchStore;
import dev.anvil.batch.domain.Batch;
import dev.anvil.security.Roles;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.RequestScoped;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonObjectBuilder;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * Every key's batches, for operators: their progress, their owner, and cancelling one that runs wild. What the lines
 * asked and answered stays with the key that created the batch ({@code /v1/files} is the owner's): an operator sees
 * counts and status, not contents.
 */
@Path("/api/batches")
@RolesAllowed(Roles.ADMIN)
@SecurityRequirement(name = AnvilApplication.ADMIN_SECURITY)
@RequestScoped
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "batches", description = "Every API key's Batch API jobs, for operators")
public class BatchesAdminResource {

    @EJB
    BatchStore store;

    @GET
    @Operation(
            summary = "Every key's batches",
            description = "Newest first, each as /v1/batches shows it plus its owner (tenant, key id); 'after' is the"
                    + " last id of the previous page")
    public Response list(@QueryParam("after") String after, @QueryParam("limit") @DefaultValue("20") int limit) {
        if (limit < 1 || limit > 100) throw ApiException.badRequest("'limit' must be 1 to 100", "limit");
        if (after != null) batch(after);
        List<Batch> page = store.allBatches(after, limit + 1);
        List<JsonObject> data =
                page.stream().limit(limit).map(BatchesAdminResource::withOwner).toList();
        return BatchesResource.json(BatchJson.list(data, page.size() > limit));
    }

    @GET
    @Path("{id}")
    @Operation(summary = "Describe any batch", description = "Its status, request_counts and owner")
    public Response get(@PathParam("id") String id) {
        return BatchesResource.json(withOwner(batch(id)));
    }

    @POST
    @Path("{id}/cancel")
    @Operation(
            summary = "Cancel any batch",
            description = "As its owner's cancel: the line in progress ends, what was answered stays in the output"
                    + " file; a batch that ended otherwise is a 409")
    public Response cancel(@PathParam("id") String id) {
        return BatchesResource.json(withOwner(BatchesResource.cancel(store, batch(id))));
    }

    private Batch batch(String id) {
        return BatchAccess.anyBatch(store, id);
    }

    /** The batch as the Batch API shows it, and who it belongs to (null fields: created without a key). */
    private static JsonObject withOwner(Batch b) {
        JsonObjectBuilder owner = Json.createObjectBuilder();
        if (b.ownerTenant() == null) owner.addNull("tenant");
        else owner.add("tenant", b.ownerTenant());
        if (b.ownerKeyId() == null) owner.addNull("key_id");
        else owner.add("key_id", b.ownerKeyId());
        return Json.createObjectBuilder(BatchJson.batch(b)).add("owner", owner).build();
    }
}
