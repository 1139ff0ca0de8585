package dev.anvil.api.registry;

import dev.anvil.api.AnvilApplication;
import dev.anvil.api.ApiException;
import dev.anvil.api.ErrorResponse;
import dev.anvil.registry.ArtifactUploads;
import dev.anvil.registry.CreateModelCommand;
import dev.anvil.registry.ModelRegistry;
import dev.anvil.registry.ModelVersionInfo;
import dev.anvil.registry.RegisterVersionCommand;
import dev.anvil.routing.BlueGreenSwitch;
import dev.anvil.security.Roles;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.RequestScoped;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import java.io.InputStream;
import java.net.URI;
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
 * Model registry API, for administrators. Thin: it turns JSON into registry commands and registry results into
 * JSON; every rule lives in {@link ModelRegistry}, which records the authenticated caller as the actor of each
 * change. Failures arrive as {@code RegistryException}s and are
 * answered by {@link dev.anvil.api.error.ServiceExceptionMapper}.
 */
@Path("/api/registry/models")
@RolesAllowed(Roles.ADMIN)
@SecurityRequirement(name = AnvilApplication.ADMIN_SECURITY)
@RequestScoped
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = "registry", description = "Model registry: models, versions, stages and their history")
public class RegistryResource {

    private static final String ERROR_JSON = MediaType.APPLICATION_JSON;

    @EJB
    ModelRegistry registry;

    @EJB
    BlueGreenSwitch blueGreen;

    @EJB
    ArtifactUploads uploads;

    @Context
    UriInfo uriInfo;

    @GET
    @Operation(
            summary = "List models",
            description = "All models, by name, with their version count and PRODUCTION version")
    @APIResponse(responseCode = "200", content = @Content(schema = @Schema(implementation = Listings.Models.class)))
    @APIResponse(
            responseCode = "503",
            description = "Registry not migrated yet",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    public Listings.Models listModels() {
        return new Listings.Models(
                registry.listModels().stream().map(ModelJson::of).toList());
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(
            summary = "Create a model",
            description = "Creates an empty model. Registering a version also creates its model.")
    @RequestBody(required = true, content = @Content(schema = @Schema(implementation = CreateModelRequest.class)))
    @APIResponse(
            responseCode = "201",
            description = "Created",
            content = @Content(schema = @Schema(implementation = ModelJson.class)))
    @APIResponse(
            responseCode = "400",
            description = "Invalid name, owner or tags",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    @APIResponse(
            responseCode = "409",
            description = "A model with this name exists",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    public Response createModel(CreateModelRequest request) {
        CreateModelRequest r = ApiException.requireBody(request);
        ModelJson created = ModelJson.of(
                registry.createModel(new CreateModelCommand(r.name(), r.description(), r.owner(), r.tags())));
        URI location = uriInfo.getBaseUriBuilder()
                .path(RegistryResource.class)
                .path(created.name())
                .build();
        return Response.created(location).entity(created).build();
    }

    @GET
    @Path("/{name}")
    @Operation(summary = "Get a model")
    @APIResponse(responseCode = "200", content = @Content(schema = @Schema(implementation = ModelJson.class)))
    @APIResponse(
            responseCode = "404",
            description = "No such model",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    public ModelJson getModel(@PathParam("name") String name) {
        return ModelJson.of(registry.getModel(name));
    }

    @GET
    @Path("/{name}/versions")
    @Operation(summary = "List a model's versions", description = "In semantic-version order")
    @APIResponse(responseCode = "200", content = @Content(schema = @Schema(implementation = Listings.Versions.class)))
    @APIResponse(
            responseCode = "404",
            description = "No such model",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    public Listings.Versions listVersions(@PathParam("name") String name) {
        return new Listings.Versions(
                registry.listVersions(name).stream().map(ModelVersionJson::of).toList());
    }

    @POST
    @Path("/{name}/versions")
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(
            summary = "Register a model version from a file on the server",
            description =
                    "The server hashes the file (SHA-256) and reads architecture, quantization and parameter count "
                            + "from its header. The model is created if it does not exist. Nothing is written when the request fails.")
    @RequestBody(required = true, content = @Content(schema = @Schema(implementation = RegisterVersionRequest.class)))
    @APIResponse(
            responseCode = "201",
            description = "Registered in stage NONE",
            content = @Content(schema = @Schema(implementation = ModelVersionJson.class)))
    @APIResponse(
            responseCode = "400",
            description = "Invalid field, missing or unreadable file, corrupt header, checksum mismatch",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    @APIResponse(
            responseCode = "409",
            description = "The model already has this version",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    public Response registerVersion(@PathParam("name") String name, RegisterVersionRequest request) {
        RegisterVersionRequest r = ApiException.requireBody(request);
        ModelVersionInfo registered = registry.registerVersion(new RegisterVersionCommand(
                name,
                r.version(),
                r.path(),
                r.format(),
                r.sha256(),
                r.description(),
                r.modelDescription(),
                r.owner(),
                r.tags()));
        URI location = uriInfo.getBaseUriBuilder()
                .path(RegistryResource.class)
                .path("{name}/versions/{version}")
                .build(registered.model(), registered.version());
        return Response.created(location)
                .entity(ModelVersionJson.of(registered))
                .build();
    }

    @POST
    @Path("/{name}/versions/{version}/file")
    // Any Content-Type: the body is the file whatever it is labelled (application/octet-stream is the one to send),
    // so the access check always runs before anything, and a body that is no model is the registration's 400.
    @Consumes(MediaType.WILDCARD)
    @Operation(
            summary = "Register a model version by uploading its file",
            description = "The request body is the model file (GGUF, or a llama2.c checkpoint with format=LLAMA2C),"
                    + " streamed to the server's upload directory (anvil.registry.upload.dir) and registered from"
                    + " there with the same checks as a registration by path (header, checksum, chat template,"
                    + " anvil.registry.artifact-roots). A file the registration refuses is deleted.")
    @RequestBody(
            required = true,
            content =
                    @Content(
                            mediaType = MediaType.APPLICATION_OCTET_STREAM,
                            schema = @Schema(type = SchemaType.STRING, format = "binary")))
    @APIResponse(
            responseCode = "201",
            description = "Registered in stage NONE",
            content = @Content(schema = @Schema(implementation = ModelVersionJson.class)))
    @APIResponse(
            responseCode = "400",
            description = "Invalid name or version, empty or too large upload, unreadable file, checksum mismatch",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    @APIResponse(
            responseCode = "409",
            description = "The model already has this version",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    public Response uploadVersion(
            @PathParam("name") String name,
            @PathParam("version") String version,
            @Parameter(description = "GGUF (detected when omitted) or LLAMA2C") @QueryParam("format") String format,
            @Parameter(description = "Expected SHA-256 (hex); refused with 400 if the file differs")
                    @QueryParam("sha256")
                    String sha256,
            @Parameter(description = "Description of this version") @QueryParam("description") String description,
            InputStream body) {
        ModelVersionInfo registered = uploads.upload(name, version, body, format, sha256, description);
        URI location = uriInfo.getBaseUriBuilder()
                .path(RegistryResource.class)
                .path("{name}/versions/{version}")
                .build(registered.model(), registered.version());
        return Response.created(location)
                .entity(ModelVersionJson.of(registered))
                .build();
    }

    @GET
    @Path("/{name}/versions/{version}")
    @Operation(summary = "Get a model version")
    @APIResponse(responseCode = "200", content = @Content(schema = @Schema(implementation = ModelVersionJson.class)))
    @APIResponse(
            responseCode = "404",
            description = "No such model or version",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    public ModelVersionJson getVersion(@PathParam("name") String name, @PathParam("version") String version) {
        return ModelVersionJson.of(registry.getVersion(name, version));
    }

    @POST
    @Path("/{name}/versions/{version}/stage")
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(
            summary = "Move a version to another stage",
            description = "Promoting to PRODUCTION archives the previous PRODUCTION version in the same transaction. "
                    + "Concurrent promotions of one model are serialised; at most one version is ever in PRODUCTION.")
    @RequestBody(required = true, content = @Content(schema = @Schema(implementation = StageChangeRequest.class)))
    @APIResponse(responseCode = "200", content = @Content(schema = @Schema(implementation = StageChangeJson.class)))
    @APIResponse(
            responseCode = "400",
            description = "Unknown stage",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    @APIResponse(
            responseCode = "404",
            description = "No such model or version",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    @APIResponse(
            responseCode = "409",
            description = "Transition not allowed, or a concurrent change won (retry)",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    public StageChangeJson changeStage(
            @PathParam("name") String name, @PathParam("version") String version, StageChangeRequest request) {
        StageChangeRequest r = ApiException.requireBody(request);
        return StageChangeJson.of(registry.changeStage(name, version, r.stage(), r.reason()));
    }

    @POST
    @Path("/{name}/switch")
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(
            summary = "Blue-green switch of the PRODUCTION version",
            description =
                    "Atomically gives the model's traffic to another version (loaded first if needed); the replaced PRODUCTION "
                            + "version moves to STAGING and stays loaded as standby, so the same call naming it switches back. Requests "
                            + "already running finish on the version they started on.")
    @RequestBody(required = true, content = @Content(schema = @Schema(implementation = SwitchRequest.class)))
    @APIResponse(responseCode = "200", content = @Content(schema = @Schema(implementation = SwitchJson.class)))
    @APIResponse(
            responseCode = "400",
            description = "No version given",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    @APIResponse(
            responseCode = "404",
            description = "No such model or version",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    @APIResponse(
            responseCode = "409",
            description = "Already serving that version, the version is ARCHIVED or cannot be loaded",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    public SwitchJson switchProduction(@PathParam("name") String name, SwitchRequest request) {
        SwitchRequest r = ApiException.requireBody(request);
        return SwitchJson.of(blueGreen.switchTo(name, r.version(), r.reason()));
    }

    @GET
    @Path("/{name}/history")
    @Operation(
            summary = "Stage history of all versions of a model",
            description = "Oldest first; registrations included; other events (drift) in `events`")
    @APIResponse(responseCode = "200", content = @Content(schema = @Schema(implementation = Listings.History.class)))
    @APIResponse(
            responseCode = "404",
            description = "No such model",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    public Listings.History modelHistory(@PathParam("name") String name) {
        return new Listings.History(
                registry.history(name).stream().map(TransitionJson::of).toList(),
                registry.events(name).stream().map(VersionEventJson::of).toList());
    }

    @GET
    @Path("/{name}/versions/{version}/history")
    @Operation(summary = "Stage history of one version", description = "Oldest first, starting with its registration")
    @APIResponse(responseCode = "200", content = @Content(schema = @Schema(implementation = Listings.History.class)))
    @APIResponse(
            responseCode = "404",
            description = "No such model or version",
            content = @Content(mediaType = ERROR_JSON, schema = @Schema(implementation = ErrorResponse.class)))
    public Listings.History versionHistory(@PathParam("name") String name, @PathParam("version") String version) {
        return new Listings.History(
                registry.history(name, version).stream().map(TransitionJson::of).toList(),
                registry.events(name, version).stream()
                        .map(VersionEventJson::of)
                        .toList());
    }
}
