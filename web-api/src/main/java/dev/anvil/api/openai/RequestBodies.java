package dev.anvil.api.openai;

import dev.anvil.api.ApiErrors;
import dev.anvil.api.ApiException;
import jakarta.json.Json;
import jakarta.json.JsonException;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import jakarta.json.JsonReaderFactory;
import jakarta.json.JsonValue;
import jakarta.json.stream.JsonParsingException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Map;

/** Reads a JSON request body with a size limit that is enforced before (and while) reading, never after parsing. */
public final class RequestBodies {

    private RequestBodies() {}

    /**
     * @param declaredLength the Content-Length header, or null (chunked)
     * @throws ApiException 413 when the body exceeds {@code limit} bytes, 400 when it is not a JSON object
     */
    /**
     * One reader factory: {@code Json.createReader} looks the JSON provider up through the ServiceLoader on every
     * call, which was a tenth of the server time of a response-cache hit.
     */
    private static final JsonReaderFactory READERS = Json.createReaderFactory(Map.of());

    public static JsonObject readObject(InputStream in, String declaredLength, long limit) {
        if (declaredLength != null) {
            try {
                if (Long.parseLong(declaredLength.trim()) > limit) {
                    throw tooLarge(limit);
                }
            } catch (NumberFormatException e) {
                throw ApiException.badRequest("Content-Length '" + declaredLength + "' is not a number", null);
            }
        }
        byte[] body;
        try {
            body = readAtMost(in, limit);
        } catch (JsonException e) { // the stream's own checks (JsonDepthLimit) while the bytes arrive
            throw invalidJson("the request body is not valid JSON: " + e.getMessage());
        }
        if (body.length == 0) {
            throw new ApiException(
                    400,
                    ApiErrors.TYPE_INVALID_REQUEST,
                    "the request body is empty; send a JSON object",
                    null,
                    "invalid_json");
        }
        try (JsonReader reader = READERS.createReader(new ByteArrayInputStream(body))) {
            JsonValue value = reader.readValue();
            if (value.getValueType() != JsonValue.ValueType.OBJECT) {
                throw invalidJson("the request body must be a JSON object, got "
                        + value.getValueType().toString().toLowerCase());
            }
            return value.asJsonObject();
        } catch (JsonParsingException e) {
            String where = e.getLocation() == null
                    ? ""
                    : " at line " + e.getLocation().getLineNumber() + ", column "
                            + e.getLocation().getColumnNumber();
            throw invalidJson("the request body is not valid JSON" + where + ": " + e.getMessage());
        } catch (JsonException e) {
            throw invalidJson("the request body is not valid JSON: " + e.getMessage());
        } catch (ApiException e) {
            throw e;
        } catch (RuntimeException e) {
            // Parsson reports some limits (nesting past its own depth limit, number sizes) as plain RuntimeExceptions;
            // whatever the parser refuses, the body is at fault.
            throw invalidJson("the request body cannot be parsed as JSON: " + e.getMessage());
        }
    }

    private static byte[] readAtMost(InputStream in, long limit) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        long total = 0;
        try {
            for (int n; (n = in.read(buffer)) > 0; ) {
                total += n;
                if (total > limit) {
                    throw tooLarge(limit);
                }
                out.write(buffer, 0, n);
            }
        } catch (IOException e) {
            throw ApiException.badRequest("the request body could not be read: " + e.getMessage(), null);
        }
        return out.toByteArray();
    }

    private static ApiException tooLarge(long limit) {
        return new ApiException(
                413,
                ApiErrors.TYPE_INVALID_REQUEST,
                "the request body is larger than the limit of " + limit + " bytes (" + OpenAiConfig.MAX_BODY_BYTES
                        + ")",
                null,
                "request_too_large");
    }

    /** 400 invalid_request_error, code {@code invalid_json}: what every unreadable body is answered with. */
    private static ApiException invalidJson(String message) {
        return new ApiException(400, ApiErrors.TYPE_INVALID_REQUEST, message, null, "invalid_json");
    }
}
