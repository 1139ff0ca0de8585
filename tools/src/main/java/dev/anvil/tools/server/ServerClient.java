package dev.anvil.tools.server;

import dev.anvil.tools.CliArgs;
import dev.anvil.tools.CommandFailedException;
import dev.anvil.tools.JsonText;
import jakarta.json.JsonException;
import jakarta.json.JsonObject;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;

/**
 * HTTP to a running Anvil server for the benchmark commands: the OpenAI-compatible API, {@code /metrics}, and the
 * admin API as an admin user (HTTP Basic, {@code ANVIL_ADMIN_USER} / {@code ANVIL_ADMIN_PASSWORD}).
 */
public final class ServerClient {

    private final String url;
    private final URI base;
    private final HttpClient http;
    private final String adminAuthorization;

    private ServerClient(String url, HttpClient http, String adminAuthorization) {
        this.url = url;
        this.base = baseUri(url);
        this.http = http;
        this.adminAuthorization = adminAuthorization;
    }

    /**
     * A client of the server at {@code url} that calls the admin API as the admin user of {@code env}; a
     * {@link CommandFailedException} when {@code ANVIL_ADMIN_PASSWORD} is not set.
     */
    static ServerClient asAdmin(String url, Map<String, String> env) {
        String password = env.get("ANVIL_ADMIN_PASSWORD");
        if (password == null || password.isEmpty()) {
            throw new CommandFailedException(
                    "set ANVIL_ADMIN_PASSWORD to the password of an admin user (bin/anvil admin-user NAME creates one)");
        }
        String user = env.getOrDefault("ANVIL_ADMIN_USER", "");
        if (user.isEmpty()) user = "admin";
        String basic = Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
        return new ServerClient(url.replaceAll("/+$", ""), newHttpClient(), "Basic " + basic);
    }

    /** HTTP/1.1 (what the server's clients speak), connections kept between requests. */
    static HttpClient newHttpClient() {
        return HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10))
                .build();
    }

    /** {@code url} with a trailing slash, for resolving API paths; a usage error when it is not an http(s) URL. */
    static URI baseUri(String url) {
        try {
            URI base = URI.create(url + "/");
            if (base.getScheme() == null || !base.getScheme().startsWith("http"))
                throw new IllegalArgumentException("not http(s)");
            return base;
        } catch (IllegalArgumentException e) {
            throw new CliArgs.UsageException("--url must be an http(s) URL, got '" + url + "'");
        }
    }

    /** The id of the first model {@code GET /v1/models} lists. */
    static String firstModel(HttpClient http, URI base) throws IOException {
        HttpResponse<String> response = send(
                http,
                HttpRequest.newBuilder(base.resolve("v1/models"))
                        .timeout(Duration.ofSeconds(30))
                        .GET()
                        .build());
        if (response.statusCode() != 200)
            throw new IOException("GET /v1/models answered " + response.statusCode() + ": " + response.body());
        JsonValue id;
        try {
            id = JsonText.at(JsonText.object(response.body()), "data", 0, "id");
        } catch (JsonException e) {
            throw new IOException(
                    "GET /v1/models answered no JSON object: " + JsonText.abbreviated(response.body()), e);
        }
        if (!(id instanceof JsonString s)) throw new IOException("GET /v1/models lists no model; pass --model");
        return s.getString();
    }

    static HttpResponse<String> send(HttpClient http, HttpRequest request) throws IOException {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    String url() {
        return url;
    }

    URI base() {
        return base;
    }

    HttpClient httpClient() {
        return http;
    }

    /** An admin API GET that must answer 2xx with a JSON object. */
    JsonObject adminGet(String path) throws IOException {
        return json("GET", path, admin(path).GET());
    }

    /** An admin API POST of {@code body} that must answer 2xx; its JSON object (empty for an empty answer). */
    JsonObject adminPost(String path, JsonObject body) throws IOException {
        return json(
                "POST",
                path,
                admin(path)
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body.toString())));
    }

    /** The server's application metrics ({@code /metrics?scope=application}). */
    MetricSamples applicationMetrics() throws IOException {
        HttpResponse<String> r = send(
                http,
                HttpRequest.newBuilder(base.resolve("metrics?scope=application"))
                        .timeout(Duration.ofSeconds(30))
                        .GET()
                        .build());
        if (r.statusCode() != 200) {
            throw new CommandFailedException("GET /metrics?scope=application answered " + r.statusCode() + ": "
                    + JsonText.abbreviated(r.body()));
        }
        return MetricSamples.parse(r.body());
    }

    private HttpRequest.Builder admin(String path) {
        return HttpRequest.newBuilder(base.resolve(path.substring(1)))
                .timeout(Duration.ofSeconds(300))
                .header("Authorization", adminAuthorization);
    }

    private JsonObject json(String method, String path, HttpRequest.Builder request) throws IOException {
        HttpResponse<String> r = send(http, request.build());
        if (r.statusCode() / 100 != 2) {
            throw new CommandFailedException(
                    method + " " + path + " answered " + r.statusCode() + ": " + JsonText.abbreviated(r.body()));
        }
        if (r.body().isBlank()) return JsonValue.EMPTY_JSON_OBJECT;
        try {
            return JsonText.object(r.body());
        } catch (JsonException e) {
            throw new CommandFailedException(
                    method + " " + path + " answered no JSON object: " + JsonText.abbreviated(r.body()));
        }
    }
}
