package dev.anvil.api.batch;

import dev.anvil.api.AnvilApplication;
import dev.anvil.api.ApiException;
import dev.anvil.api.security.ApiKeyAccess;
import dev.anvil.batch.BatchConfig;
import dev.anvil.batch.BatchStore;
import dev.anvil.batch.domain.BatchFile;
import jakarta.ejb.EJB;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.StreamingOutput;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * {@code /v1/files}: OpenAI's Files API for the Batch API: upload a JSONL input (purpose {@code batch}), read a file's
 * object and content (inputs, and the output and error files of batches), delete. Files belong to the key that
 * created them ({@link BatchAccess}).
 */
@Path("/v1/files")
@ApiKeyAccess
@SecurityRequirement(name = AnvilApplication.API_KEY_SECURITY)
@Tag(name = "openai", description = "OpenAI-compatible inference API")
public class FilesResource {

    /** Lines read from the database per page while a download is written. */
    private static final int PAGE = 500;

    @EJB
    BatchStore store;

    @Inject
    BatchConfig config;

    @Inject
    BatchAccess access;

    @POST
    @Consumes(MediaType.MULTIPART_FORM_DATA)
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(
            summary = "Upload a batch input file",
            description = "multipart/form-data with 'purpose' = batch and 'file': JSONL, one request per line"
                    + " ({\"custom_id\", \"method\": \"POST\", \"url\", \"body\"}); checked line by line (400 naming"
                    + " the lines)")
    public Response upload(InputStream body, @HeaderParam(HttpHeaders.CONTENT_TYPE) String contentType) {
        // the form around the file adds little: a small allowance for its boundaries and the purpose field
        MultipartForm form = MultipartForm.read(body, contentType, config.maxFileBytes() + 16 * 1024);
        MultipartForm.Part purpose = form.part("purpose");
        if (purpose == null || !purpose.text().strip().equals(BatchFile.PURPOSE_INPUT)) {
            throw ApiException.badRequest(
                    "'purpose' must be \"batch\""
                            + (purpose == null
                                    ? " (the field is missing)"
                                    : ", got \"" + abbreviate(purpose.text()) + "\"")
                            + ": this server stores files for the Batch API only",
                    "purpose");
        }
        MultipartForm.Part file = form.part("file");
        if (file == null) throw ApiException.badRequest("the form has no 'file' part", "file");
        if (file.content().length > config.maxFileBytes()) {
            throw new ApiException(
                    413,
                    dev.anvil.api.ApiErrors.TYPE_INVALID_REQUEST,
                    "the file is larger than " + config.maxFileBytes() + " bytes (anvil.batch.max-file-bytes)",
                    "file",
                    "file_too_large");
        }
        String name = file.filename() == null || file.filename().isBlank() ? "batch.jsonl" : file.filename();
        if (name.length() > BatchFile.MAX_FILENAME || name.indexOf('\0') >= 0) {
            throw ApiException.badRequest(
                    "the file name must be at most " + BatchFile.MAX_FILENAME + " characters", "file");
        }
        List<BatchInput.Line> lines = BatchInput.parse(file.content(), config.maxLines(), config.maxLineBytes());
        BatchFile stored = store.createInputFile(
                access.keyId(),
                access.tenant(),
                name,
                file.content().length,
                lines.stream().map(BatchInput.Line::text).toList());
        return json(BatchJson.file(stored).toString());
    }

    private static String abbreviate(String text) {
        String s = text.strip();
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }

    @GET
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "List the caller's files", description = "Newest first, at most 10,000")
    public Response list() {
        return json(BatchJson.list(
                        store.files(access.keyId(), 10_000).stream()
                                .map(BatchJson::file)
                                .toList(),
                        false)
                .toString());
    }

    @GET
    @Path("{id}")
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Describe a file")
    public Response get(@PathParam("id") String id) {
        return json(BatchJson.file(access.file(id, "file_id")).toString());
    }

    // No @Produces: clients ask with any Accept (the openai npm client sends application/json); the body is JSONL.
    @GET
    @Path("{id}/content")
    @Operation(summary = "Download a file's content", description = "JSONL: the input, or a batch's output or errors")
    public Response content(@PathParam("id") String id) {
        BatchFile file = access.file(id, "file_id");
        StreamingOutput out = stream -> {
            int from = 0;
            while (true) {
                List<BatchStore.IndexedLine> page = store.lines(file.id(), from, PAGE);
                if (page.isEmpty()) break;
                for (BatchStore.IndexedLine line : page) {
                    stream.write(line.content().getBytes(StandardCharsets.UTF_8));
                    stream.write('\n');
                }
                from = page.getLast().index() + 1;
            }
        };
        return Response.ok(out, "application/jsonl").build();
    }

    @DELETE
    @Path("{id}")
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Delete a file")
    public Response delete(@PathParam("id") String id) {
        BatchFile file = access.file(id, "file_id");
        store.deleteFile(file.id());
        return json(BatchJson.fileDeleted(file.id()).toString());
    }

    private static Response json(String body) {
        return Response.ok(body, MediaType.APPLICATION_JSON).build();
    }
}
