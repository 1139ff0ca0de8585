package dev.anvil.api;

import org.eclipse.microprofile.openapi.annotations.media.Schema;

/** OpenAI-style error envelope: {@code {"error":{"message":..., "type":..., "param":..., "code":...}}}. */
@Schema(name = "ErrorResponse", description = "Error envelope returned by every Anvil endpoint on failure")
public record ErrorResponse(@Schema(required = true) ErrorDetail error) {}
