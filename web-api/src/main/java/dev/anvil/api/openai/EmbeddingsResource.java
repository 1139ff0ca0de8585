package dev.anvil.api.openai;

import dev.anvil.api.AnvilApplication;
import dev.anvil.api.security.ApiKeyAccess;
import jakarta.inject.Inject;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.container.AsyncResponse;
import jakarta.ws.rs.container.Suspended;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.HttpHeaders;
import java.io.InputStream;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/** {@code POST /v1/embeddings}: OpenAI's embeddings, from an embedding model (a BERT-family GGUF). */
@Path("/v1/embeddings")
@ApiKeyAccess
@SecurityRequirement(name = AnvilApplication.API_KEY_SECURITY)
@Tag(name = "openai", description = "OpenAI-compatible inference API")
public class EmbeddingsResource {

    @Inject
    EmbeddingPipeline pipeline;

    @POST
    @Operation(
            summary = "Create embeddings",
            description =
                    "OpenAI-compatible embeddings of one or more inputs (strings or token id arrays), L2-normalized,"
                            + " as float arrays or base64 (encoding_format); dimensions only for models declared truncatable.")
    public void create(
            InputStream body,
            @HeaderParam(HttpHeaders.CONTENT_LENGTH) String contentLength,
            @Context HttpServletRequest servletRequest,
            @Suspended AsyncResponse async) {
        pipeline.embed(servletRequest, async, body, contentLength);
    }
}
