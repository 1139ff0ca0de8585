package dev.anvil.api.experiments;

import dev.anvil.api.AnvilApplication;
import dev.anvil.api.ApiException;
import dev.anvil.api.ErrorResponse;
import dev.anvil.api.gateway.CallerContext;
import dev.anvil.api.security.ApiKeyAccess;
import dev.anvil.drift.DriftMonitor;
import dev.anvil.experiments.ExperimentService;
import dev.anvil.experiments.FeedbackInfo;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.RequestScoped;
import jakarta.inject.Inject;
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
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * User feedback on served responses, next to the OpenAI-style API (snake_case like it). Results join it to outcomes,
 * and ratings drive canary rollbacks and bandit weights, so only the caller that received a response may rate it
 * ({@link CallerContext#requireRecipientOf}), once (a later rating replaces the earlier one), within its key's rate
 * limits (the gateway admits {@code /v1/feedback} like every {@code /v1} request).
 */
@Path("/v1/feedback")
@ApiKeyAccess
@SecurityRequirement(name = AnvilApplication.API_KEY_SECURITY)
@RequestScoped
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "feedback", description = "Ratings of served responses, used by experiment results")
public class FeedbackResource {

    @EJB
    ExperimentService experiments;

    @Inject
    CallerContext caller;

    @Inject
    DriftMonitor drift;

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(
            summary = "Rate a response",
            description =
                    "Thumbs (-1, 0, +1; the default scale) or stars (1-5), by the caller that "
                            + "received the response: the same tenant's API key, or for callers without a key the same subject ('user' / X-Anvil-User "
                            + "of the request, else the same network address); an admin (HTTP Basic, role anvil-admin) may rate any id. If it was "
                            + "served in an experiment the answer names the experiment and variant. One rating per response: a later one replaces it.")
    @RequestBody(
            required = true,
            content = @Content(schema = @Schema(implementation = ExperimentRequests.Feedback.class)))
    @APIResponse(
            responseCode = "201",
            content = @Content(schema = @Schema(implementation = ExperimentJson.Feedback.class)))
    @APIResponse(
            responseCode = "400",
            description = "Missing response_id, rating outside its scale, unknown scale",
            content =
                    @Content(
                            mediaType = MediaType.APPLICATION_JSON,
                            schema = @Schema(implementation = ErrorResponse.class)))
    @APIResponse(
            responseCode = "403",
            description = "The response was served to another caller (response_not_yours)",
            content =
                    @Content(
                            mediaType = MediaType.APPLICATION_JSON,
                            schema = @Schema(implementation = ErrorResponse.class)))
    @APIResponse(
            responseCode = "404",
            description = "No response with this id was served (response_not_found)",
            content =
                    @Content(
                            mediaType = MediaType.APPLICATION_JSON,
                            schema = @Schema(implementation = ErrorResponse.class)))
    @APIResponse(
            responseCode = "429",
            description = "The API key's rate limits",
            content =
                    @Content(
                            mediaType = MediaType.APPLICATION_JSON,
                            schema = @Schema(implementation = ErrorResponse.class)))
    public Response rate(ExperimentRequests.Feedback request) {
        ExperimentRequests.Feedback f = ApiException.requireBody(request);
        experiments.checkFeedback(
                f.responseId(), f.rating(), f.scale(), f.comment()); // a malformed rating is a 400 first
        caller.requireRecipientOf(f.responseId(), f.user());
        FeedbackInfo recorded = experiments.recordFeedback(f.responseId(), f.rating(), f.scale(), f.comment());
        drift.feedback(recorded.responseId(), recorded.negative()); // the answering version's feedback feature
        ExperimentJson.Feedback stored = ExperimentJson.Feedback.of(recorded);
        return Response.status(Response.Status.CREATED).entity(stored).build();
    }
}
