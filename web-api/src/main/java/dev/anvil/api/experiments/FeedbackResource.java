package dev.anvil.api.experiments;

import dev.anvil.api.AnvilApplication;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import dev.anvil.api.security.ApiKeyAccess;
import dev.anvil.api.ErrorResponse;
import dev.anvil.experiments.ExperimentService;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.RequestScoped;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/** User feedback on served responses, next to the OpenAI-style API (snake_case like it). Results join it to outcomes. */
@Path("/v1/feedback")
@ApiKeyAccess
@SecurityRequirement(name = AnvilApplication.API_KEY_SECURITY)
@RequestScoped
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "feedback", description = "Ratings of served responses, used by experiment results")
public class FeedbackResource {

    @EJB
    ExperimentService experiments;

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(summary = "Rate a response", description = "Thumbs (-1, 0, +1; the default scale) or stars (1-5). Any response id is "
            + "accepted; if it was served in an experiment the answer names the experiment and variant. A later rating of the same "
            + "response supersedes an earlier one in results.")
    @RequestBody(required = true, content = @Content(schema = @Schema(implementation = ExperimentRequests.Feedback.class)))
    @APIResponse(responseCode = "201", content = @Content(schema = @Schema(implementation = ExperimentJson.Feedback.class)))
    @APIResponse(responseCode = "400", description = "Missing response_id, rating outside its scale, unknown scale",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    public Response rate(ExperimentRequests.Feedback request) {
        ExperimentRequests.Feedback f = ExperimentsResource.body(request);
        ExperimentJson.Feedback stored = ExperimentJson.Feedback.of(experiments.recordFeedback(f.responseId(), f.rating(), f.scale(), f.comment()));
        return Response.status(Response.Status.CREATED).entity(stored).build();
    }
}
