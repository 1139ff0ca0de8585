package dev.anvil.api;

import jakarta.json.bind.annotation.JsonbNillable;
import jakarta.json.bind.annotation.JsonbPropertyOrder;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

/**
 * The inner object of an OpenAI-style error body. {@code param} and {@code code} are serialized as JSON
 * {@code null} when absent (OpenAI clients expect the keys to exist), hence {@link JsonbNillable}.
 *
 * @param message human-readable description of what went wrong; never contains stack traces or secrets
 * @param type    error category, one of the {@code ApiErrors.TYPE_*} constants (e.g. {@code invalid_request_error})
 * @param param   name of the request parameter/field at fault, or null
 * @param code    machine-readable code (e.g. {@code model_not_found}), or null
 */
@JsonbNillable
@JsonbPropertyOrder({"message", "type", "param", "code"})
@Schema(name = "ErrorDetail", description = "Details of an error (OpenAI-compatible)")
public record ErrorDetail(
        @Schema(description = "Human-readable error message", required = true)
        String message,

        @Schema(description = "Error category", required = true, examples = "invalid_request_error")
        String type,

        @Schema(description = "Request parameter at fault, if any", nullable = true)
        String param,

        @Schema(description = "Machine-readable error code, if any", nullable = true)
        String code) {}
