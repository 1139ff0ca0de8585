package dev.anvil.it;

import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import java.io.StringReader;
import java.net.http.HttpHeaders;

/**
 * A completed HTTP exchange with the server under test. {@link #toString()} includes method, path,
 * status and body so assertion messages show what the server actually answered.
 */
public record HttpResult(String method, String path, int status, HttpHeaders headers, String body) {

    public String contentType() {
        return headers.firstValue("Content-Type").orElse("");
    }

    public JsonObject json() {
        try (JsonReader reader = Json.createReader(new StringReader(body))) {
            return reader.readObject();
        } catch (RuntimeException e) {
            throw new AssertionError("Expected a JSON object from " + this, e);
        }
    }

    public JsonArray jsonArray() {
        try (JsonReader reader = Json.createReader(new StringReader(body))) {
            return reader.readArray();
        } catch (RuntimeException e) {
            throw new AssertionError("Expected a JSON array from " + this, e);
        }
    }

    @Override
    public String toString() {
        String shown = body.length() > 2000 ? body.substring(0, 2000) + "...(" + body.length() + " chars)" : body;
        return method + " " + path + " -> " + status + " [" + contentType() + "] " + shown;
    }
}
