package dev.anvil.api.batch;

import dev.anvil.api.AnvilApplication;
import dev.anvil.api.ApiErrors;
import dev.anvil.api.ApiException;
import dev.anvil.api.gateway.CallerContext;
import dev.anvil.api.openai.OpenAiConfig;
import dev.anvil.api.openai.RequestBodies;
import dev.anvil.api.security.ApiKeyAccess;
import dev.anvil.batch.BatchConfig;
import dev.anvil.batch.BatchStore;
import dev.anvil.batch.domain.Batch;
import dev.anvil.batch.domain.BatchFile;
import dev.anvil.gateway.KeyGrant;
import dev.anvil.serving.InferenceService;
import dev.anvil.serving.ServedModel;
import jakarta.ejb.EJB;
import jakarta.inject.Inject;
import jakarta.json.JsonObject;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.io.InputStream;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * {@code /v1/batches}: OpenAI's Batch API. A batch runs every line of an uploaded input file against one endpoint
 * as a Jakarta Batch job ({@link BatchJobs}) at low priority, billed to the key that created it; its output and
 * error files are read through {@code /v1/files}. Batches belong to the key that created them ({@link BatchAccess}).
 */
@Path("/v1/batches")
@ApiKeyAccess
@SecurityRequirement(name = AnvilApplication.API_KEY_SECURITY)
@Tag(name = "openai", description = "OpenAI-compatible inference API")
@Produces(MediaType.APPLICATION_JSON)
public class BatchesResource {

    /** At most this many metadata pairs, keys of 64 and values of 512 characters (OpenAI's bounds). */
    static final int MAX_METADATA = 16;

    @EJB
    BatchStore store;

    @EJB
    InferenceService inference;

    @Inject
    BatchConfig config;

    @Inject
    OpenAiConfig api;

    @Inject
    BatchAccess access;

    @Inject
    CallerContext caller;

    @Inject
    BatchJobs jobs;

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(
            summary = "Create a batch",
            description = "Runs every line of input_file_id against endpoint (/v1/chat/completions, /v1/completions,"
                    + " /v1/embeddings) within completion_window 24h; 400 naming the lines whose url or model does not"
                    + " fit")
    public Response create(InputStream body, @HeaderParam(HttpHeaders.CONTENT_LENGTH) String contentLength) {
        JsonObject request = RequestBodies.readObject(body, contentLength, api.maxBodyBytes());
        String endpoint = requiredString(request, "endpoint");
        if (!Batch.ENDPOINTS.contains(endpoint)) {
            throw ApiException.badRequest(
                    "'endpoint' must be one of " + String.join(", ", Batch.ENDPOINTS) + ", got \"" + endpoint + "\"",
                    "endpoint");
        }
        String window = requiredString(request, "completion_window");
        if (!window.equals(Batch.WINDOW_24H)) {
            throw ApiException.badRequest(
                    "'completion_window' must be \"24h\", got \"" + window + "\"", "completion_window");
        }
        String metadata = metadata(request.get("metadata"));
        BatchFile input = access.file(requiredString(request, "input_file_id"), "input_file_id");
        if (!input.purpose().equals(BatchFile.PURPOSE_INPUT)) {
            throw ApiException.badRequest(
                    "file " + input.id() + " has purpose " + input.purpose() + "; a batch reads a file uploaded with"
                            + " purpose \"batch\"",
                    "input_file_id");
        }
        List<BatchInput.Line> lines = store.lines(input.id(), 0, input.lineCount()).stream()
                .map(l -> BatchInput.line(l.index() + 1, l.content()))
                .toList();
        BatchInput.checkFor(lines, endpoint, model -> refusal(model, endpoint));
        if (store.activeBatches(access.keyId()) >= config.maxActivePerKey()) {
            throw new ApiException(
                    429,
                    ApiErrors.TYPE_RATE_LIMIT,
                    "this API key has " + config.maxActivePerKey() + " unfinished batches"
                            + " (anvil.batch.max-active-per-key); wait for one to end or cancel one",
                    null,
                    "too_many_batches");
        }
        Batch batch = store.createBatch(access.keyId(), access.tenant(), endpoint, input, metadata);
        jobs.start(batch);
        return json(BatchJson.batch(store.batch(batch.id()).orElseThrow()));
    }

    /** Why a line's model cannot be used by this batch (null when it can): not served, not this endpoint's kind, or outside the key's scope. */
    private String refusal(String model, String endpoint) {
        int at = model.indexOf('@');
        String name = at < 0 ? model : model.substring(0, at);
        KeyGrant key = caller.key();
        if (key != null && !key.allows(name)) {
            return "the API key " + key.prefix() + "... may not use model '" + name + "'";
        }
        ServedModel served = inference.models().stream()
                .filter(m -> m.name().equals(model) || m.ref().equals(model))
                .findFirst()
                .orElse(null);
        if (served == null) return "model '" + model + "' is not served here (GET /v1/models lists those that are)";
        boolean embeddings = endpoint.equals("/v1/embeddings");
        if (served.embeds() != embeddings) {
            return "model '" + model + "' is " + (served.embeds() ? "an embedding model" : "a generation model")
                    + " and cannot serve " + endpoint;
        }
        return null;
    }

    private static String requiredString(JsonObject request, String field) {
        if (!(request.get(field) instanceof JsonString s) || s.getString().isBlank()) {
            throw ApiException.badRequest("'" + field + "' is required (a string)", field);
        }
        return s.getString();
    }

    private static String metadata(JsonValue value) {
        if (value == null || value == JsonValue.NULL) return null;
        if (!(value instanceof JsonObject object)) {
            throw ApiException.badRequest("'metadata' must be an object of string values", "metadata");
        }
        if (object.size() > MAX_METADATA) {
            throw ApiException.badRequest("'metadata' holds at most " + MAX_METADATA + " pairs", "metadata");
        }
        for (var entry : object.entrySet()) {
            if (entry.getKey().length() > 64
                    || !(entry.getValue() instanceof JsonString s)
                    || s.getString().length() > 512
                    || entry.getKey().indexOf('\0') >= 0
                    || s.getString().indexOf('\0') >= 0) {
                throw ApiException.badRequest(
                        "'metadata' keys are at most 64 characters and values strings of at most 512", "metadata");
            }
        }
        return object.toString();
    }

    @GET
    @Operation(
            summary = "List the caller's batches",
            description = "Newest first; 'after' is the last id of the previous page")
    public Response list(@QueryParam("after") String after, @QueryParam("limit") @DefaultValue("20") int limit) {
        if (limit < 1 || limit > 100) throw ApiException.badRequest("'limit' must be 1 to 100", "limit");
        if (after != null) access.batch(after); // a cursor must be one of the caller's batches
        List<Batch> page = store.batches(access.keyId(), after, limit + 1);
        List<JsonObject> data = page.stream().limit(limit).map(BatchJson::batch).toList();
        return json(BatchJson.list(data, page.size() > limit));
    }

    @GET
    @Path("{id}")
    @Operation(summary = "Describe a batch", description = "Its status and request_counts")
    public Response get(@PathParam("id") String id) {
        return json(BatchJson.batch(access.batch(id)));
    }

    @POST
    @Path("{id}/cancel")
    @Operation(
            summary = "Cancel a batch",
            description =
                    "cancelling until the line in progress ends, then cancelled; what was answered stays in the"
                            + " output file. Cancelling a cancelled batch changes nothing; a batch that ended otherwise is a 409")
    public Response cancel(@PathParam("id") String id) {
        return json(BatchJson.batch(cancel(store, access.batch(id))));
    }

    /**
     * Asks {@code batch} to stop (the caller's, or any for an operator): the batch as it is now. Cancelling a cancelled
     * batch changes nothing; one that ended otherwise is a 409.
     */
    static Batch cancel(BatchStore store, Batch batch) {
        if (batch.status().equals(Batch.CANCELLED)) return batch;
        if (batch.isTerminal()) {
            throw ApiException.conflict(
                    "batch " + batch.id() + " is already " + batch.status() + " and cannot be cancelled",
                    "batch_id",
                    "batch_over");
        }
        return store.requestCancel(batch.id()).orElseThrow();
    }

    static Response json(JsonObject body) {
        return Response.ok(body.toString(), MediaType.APPLICATION_JSON).build();
    }
}
