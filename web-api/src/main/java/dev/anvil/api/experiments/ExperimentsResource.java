package dev.anvil.api.experiments;

import dev.anvil.api.AnvilApplication;
import dev.anvil.api.ApiException;
import dev.anvil.api.ErrorResponse;
import dev.anvil.experiments.CreateExperimentCommand;
import dev.anvil.experiments.ExperimentService;
import dev.anvil.experiments.RecordOutcomeCommand;
import dev.anvil.experiments.domain.ExperimentStatus;
import dev.anvil.experiments.domain.VariantSpec;
import dev.anvil.security.Roles;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.RequestScoped;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import java.net.URI;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.Parameter;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

/**
 * Experiments API, for administrators. Thin: it maps JSON to service calls and back; every rule lives in
 * {@link ExperimentService} (which records the authenticated caller as the actor of each change), whose failures {@link dev.anvil.api.error.ServiceExceptionMapper} answers.
 */
@Path("/api/experiments")
@RolesAllowed(Roles.ADMIN)
@SecurityRequirement(name = AnvilApplication.ADMIN_SECURITY)
@RequestScoped
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "experiments", description = "A/B, canary, shadow and bandit experiments over registered model versions")
public class ExperimentsResource {

    private static final String ERROR_JSON = MediaType.APPLICATION_JSON;

    @EJB
    ExperimentService experiments;

    @Context
    UriInfo uriInfo;

    private static String reason(ExperimentRequests.Reason body) {
        return body == null ? null : body.reason();
    }

    static CreateExperimentCommand command(ExperimentRequests.Create r) {
        List<VariantSpec> variants = r.variants() == null
                ? null
                : r.variants().stream()
                        .map(v -> {
                            if (v == null) throw ApiException.badRequest("variants must not contain null", "variants");
                            return new VariantSpec(
                                    v.name(),
                                    v.modelVersion(),
                                    v.temperature(),
                                    v.topP(),
                                    v.maxTokens(),
                                    v.systemPrompt(),
                                    v.weightPercent(),
                                    Boolean.TRUE.equals(v.control()));
                        })
                        .toList();
        return new CreateExperimentCommand(
                r.name(),
                r.model(),
                r.strategy(),
                r.hypothesis(),
                r.primaryMetric(),
                r.maxErrorRate(),
                r.maxP95LatencyMs(),
                r.maxNegativeFeedbackRate(),
                r.minimumSample(),
                r.canarySteps(),
                variants);
    }

    @GET
    @Operation(
            summary = "List experiments",
            description = "All experiments, by name; `status` keeps those in one status")
    @APIResponse(
            responseCode = "200",
            content = @Content(schema = @Schema(implementation = ExperimentJson.Listing.class)))
    @APIResponse(
            responseCode = "400",
            description = "Unknown status",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    public ExperimentJson.Listing list(
            @Parameter(
                            description = "Only experiments in this status",
                            schema =
                                    @Schema(
                                            type = SchemaType.STRING,
                                            enumeration = {"DRAFT", "RUNNING", "PAUSED", "COMPLETED", "ROLLED_BACK"}))
                    @QueryParam("status")
                    String status) {
        String wanted = status(status);
        return new ExperimentJson.Listing(experiments.list().stream()
                .filter(e -> wanted == null || e.status().equals(wanted))
                .map(ExperimentJson.Experiment::of)
                .toList());
    }

    private static String status(String status) {
        if (status == null || status.isBlank()) return null;
        for (ExperimentStatus s : ExperimentStatus.values()) {
            if (s.name().equalsIgnoreCase(status.strip())) return s.name();
        }
        throw ApiException.badRequest(
                "status must be one of " + java.util.Arrays.toString(ExperimentStatus.values()) + ", got '"
                        + (status.length() > 40 ? status.substring(0, 40) + "..." : status) + "'",
                "status");
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(
            summary = "Create an experiment",
            description =
                    "Creates it in status DRAFT. Weights must sum to 100, exactly one variant "
                            + "is the control, and every variant's model version must be registered under the model and not ARCHIVED.")
    @RequestBody(
            required = true,
            content = @Content(schema = @Schema(implementation = ExperimentRequests.Create.class)))
    @APIResponse(
            responseCode = "201",
            description = "Created",
            content = @Content(schema = @Schema(implementation = ExperimentJson.Experiment.class)))
    @APIResponse(
            responseCode = "400",
            description =
                    "Invalid field, weights not summing to 100, not exactly one control, unknown model or version",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    @APIResponse(
            responseCode = "409",
            description = "Name taken, or a variant's model version is ARCHIVED",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    public Response create(ExperimentRequests.Create request) {
        ExperimentJson.Experiment created =
                ExperimentJson.Experiment.of(experiments.create(command(ApiException.requireBody(request))));
        URI location = uriInfo.getBaseUriBuilder()
                .path(ExperimentsResource.class)
                .path(created.name())
                .build();
        return Response.created(location).entity(created).build();
    }

    @GET
    @Path("/{name}")
    @Operation(summary = "Get an experiment", description = "With its variants and event history")
    @APIResponse(
            responseCode = "200",
            content = @Content(schema = @Schema(implementation = ExperimentJson.Experiment.class)))
    @APIResponse(
            responseCode = "404",
            description = "No such experiment",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    public ExperimentJson.Experiment get(@PathParam("name") String name) {
        return ExperimentJson.Experiment.of(experiments.get(name));
    }

    @POST
    @Path("/{name}/start")
    @Consumes({MediaType.APPLICATION_JSON, MediaType.WILDCARD})
    @Operation(
            summary = "Start an experiment",
            description = "DRAFT to RUNNING. A CANARY candidate starts at the first canary step.")
    @APIResponse(
            responseCode = "200",
            content = @Content(schema = @Schema(implementation = ExperimentJson.Experiment.class)))
    @APIResponse(
            responseCode = "409",
            description = "Not in DRAFT, or a variant's version was archived since creation",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    public ExperimentJson.Experiment start(@PathParam("name") String name) {
        return ExperimentJson.Experiment.of(experiments.start(name));
    }

    @POST
    @Path("/{name}/pause")
    @Consumes({MediaType.APPLICATION_JSON, MediaType.WILDCARD})
    @Operation(
            summary = "Pause an experiment",
            description = "RUNNING to PAUSED: traffic goes to the control, assignments are kept")
    @RequestBody(content = @Content(schema = @Schema(implementation = ExperimentRequests.Reason.class)))
    @APIResponse(
            responseCode = "200",
            content = @Content(schema = @Schema(implementation = ExperimentJson.Experiment.class)))
    @APIResponse(
            responseCode = "409",
            description = "Not RUNNING",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    public ExperimentJson.Experiment pause(@PathParam("name") String name, ExperimentRequests.Reason body) {
        return ExperimentJson.Experiment.of(experiments.pause(name, reason(body)));
    }

    @POST
    @Path("/{name}/resume")
    @Consumes({MediaType.APPLICATION_JSON, MediaType.WILDCARD})
    @Operation(summary = "Resume a paused experiment", description = "PAUSED to RUNNING")
    @APIResponse(
            responseCode = "200",
            content = @Content(schema = @Schema(implementation = ExperimentJson.Experiment.class)))
    @APIResponse(
            responseCode = "409",
            description = "Not PAUSED",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    public ExperimentJson.Experiment resume(@PathParam("name") String name) {
        return ExperimentJson.Experiment.of(experiments.resume(name));
    }

    @POST
    @Path("/{name}/complete")
    @Consumes({MediaType.APPLICATION_JSON, MediaType.WILDCARD})
    @Operation(summary = "Complete an experiment", description = "RUNNING or PAUSED to COMPLETED (final)")
    @RequestBody(content = @Content(schema = @Schema(implementation = ExperimentRequests.Reason.class)))
    @APIResponse(
            responseCode = "200",
            content = @Content(schema = @Schema(implementation = ExperimentJson.Experiment.class)))
    @APIResponse(
            responseCode = "409",
            description = "Not RUNNING or PAUSED",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    public ExperimentJson.Experiment complete(@PathParam("name") String name, ExperimentRequests.Reason body) {
        return ExperimentJson.Experiment.of(experiments.complete(name, reason(body)));
    }

    @POST
    @Path("/{name}/rollback")
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(
            summary = "Roll an experiment back",
            description = "RUNNING or PAUSED to ROLLED_BACK (final): all traffic back to the control. "
                    + "A reason is required.")
    @RequestBody(
            required = true,
            content = @Content(schema = @Schema(implementation = ExperimentRequests.Reason.class)))
    @APIResponse(
            responseCode = "200",
            content = @Content(schema = @Schema(implementation = ExperimentJson.Experiment.class)))
    @APIResponse(
            responseCode = "400",
            description = "No reason",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    @APIResponse(
            responseCode = "409",
            description = "Not RUNNING or PAUSED",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    public ExperimentJson.Experiment rollBack(@PathParam("name") String name, ExperimentRequests.Reason body) {
        return ExperimentJson.Experiment.of(experiments.rollBack(name, reason(body)));
    }

    @PUT
    @Path("/{name}/weights")
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(
            summary = "Adjust traffic weights",
            description = "New weights for every variant, summing to 100. Subjects already "
                    + "assigned keep their variant; new subjects follow the new weights.")
    @RequestBody(
            required = true,
            content = @Content(schema = @Schema(implementation = ExperimentRequests.Weights.class)))
    @APIResponse(
            responseCode = "200",
            content = @Content(schema = @Schema(implementation = ExperimentJson.Experiment.class)))
    @APIResponse(
            responseCode = "400",
            description = "Weights missing a variant, naming an unknown one, or not summing to 100",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    @APIResponse(
            responseCode = "409",
            description = "Experiment finished",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    public ExperimentJson.Experiment adjustWeights(@PathParam("name") String name, ExperimentRequests.Weights body) {
        ExperimentRequests.Weights w = ApiException.requireBody(body);
        return ExperimentJson.Experiment.of(experiments.adjustWeights(name, w.weights(), w.reason()));
    }

    @POST
    @Path("/{name}/rebalance")
    @Consumes({MediaType.APPLICATION_JSON, MediaType.WILDCARD})
    @Operation(
            summary = "Rebalance a BANDIT experiment",
            description = "Sets the weights to the Thompson-sampling allocation of the "
                    + "outcomes so far (success: no error and no negative feedback), each variant keeping at least "
                    + "anvil.experiments.bandit-floor-percent")
    @APIResponse(
            responseCode = "200",
            content = @Content(schema = @Schema(implementation = ExperimentJson.Experiment.class)))
    @APIResponse(
            responseCode = "409",
            description = "Not a BANDIT experiment, or finished",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    public ExperimentJson.Experiment rebalance(@PathParam("name") String name) {
        return ExperimentJson.Experiment.of(experiments.rebalance(name));
    }

    @GET
    @Path("/{name}/results")
    @Operation(
            summary = "Experiment results",
            description =
                    "Per-variant counts, error and negative-feedback rates with 95% Wilson "
                            + "intervals, latency percentiles, cost and guardrail breaches; each candidate against the control on the primary metric "
                            + "with the test that suits it, its p-value and a plain-language verdict (none below the minimum sample)")
    @APIResponse(
            responseCode = "200",
            content = @Content(schema = @Schema(implementation = ExperimentJson.Results.class)))
    @APIResponse(
            responseCode = "404",
            description = "No such experiment",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    public ExperimentJson.Results results(@PathParam("name") String name) {
        return ExperimentJson.Results.of(experiments.results(name));
    }

    @GET
    @Path("/{name}/assignment")
    @Operation(
            summary = "Look up a subject's variant",
            description = "The sticky variant for a user or session key in a RUNNING "
                    + "experiment; the first lookup records the assignment. The request path uses the same service.")
    @APIResponse(
            responseCode = "200",
            content = @Content(schema = @Schema(implementation = ExperimentJson.Assignment.class)))
    @APIResponse(
            responseCode = "400",
            description = "No key",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    @APIResponse(
            responseCode = "409",
            description = "Experiment not RUNNING",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    public ExperimentJson.Assignment assignment(
            @PathParam("name") String name,
            @Parameter(description = "Subject key (user or session id)", required = true) @QueryParam("key")
                    String key) {
        return ExperimentJson.Assignment.of(experiments.assign(name, key));
    }

    @POST
    @Path("/{name}/outcomes")
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(
            summary = "Record an outcome",
            description =
                    "Admin and integration path for reporting how one response served by a "
                            + "variant went (latency, tokens, error, cost): used by external gateways and offline evaluations; Anvil's own request path "
                            + "records through the same service. Accepted while the experiment is RUNNING or PAUSED; one outcome per response id.")
    @RequestBody(
            required = true,
            content = @Content(schema = @Schema(implementation = ExperimentRequests.Outcome.class)))
    @APIResponse(
            responseCode = "201",
            content = @Content(schema = @Schema(implementation = ExperimentJson.Outcome.class)))
    @APIResponse(
            responseCode = "400",
            description = "Invalid field or unknown variant",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    @APIResponse(
            responseCode = "409",
            description = "Experiment not RUNNING or PAUSED, or response already recorded",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    public Response recordOutcome(@PathParam("name") String name, ExperimentRequests.Outcome body) {
        ExperimentRequests.Outcome o = ApiException.requireBody(body);
        ExperimentJson.Outcome recorded = ExperimentJson.Outcome.of(experiments.recordOutcome(
                name,
                new RecordOutcomeCommand(
                        o.responseId(),
                        o.variant(),
                        o.latencyMs(),
                        o.ttftMs(),
                        o.promptTokens(),
                        o.completionTokens(),
                        o.error(),
                        o.cost())));
        return Response.status(Response.Status.CREATED).entity(recorded).build();
    }
}
