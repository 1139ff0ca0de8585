package dev.anvil.tools.server;

import dev.anvil.tools.CliArgs;
import dev.anvil.tools.CommandFailedException;
import dev.anvil.tools.JsonText;
import jakarta.json.Json;
import jakarta.json.JsonArray;
import jakarta.json.JsonNumber;
import jakarta.json.JsonObject;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;
import java.io.IOException;
import java.io.PrintStream;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * {@code anvil shadow-bench}: what SHADOW traffic costs the live (control) requests, on a running server. Measures the
 * control's latency with the load generator ({@link LoadCommand}, no experiment); registers a shadow version of the
 * model (the same artifact as its PRODUCTION version, so the shadow does the same work) and starts a SHADOW experiment
 * copying every request to it at LOW batch priority, measures again; completes the experiment and prints both
 * latencies and the ratio of the p99s. Each measurement follows an unmeasured warm-up run (the second one also loads
 * the shadow version). The admin API calls authenticate as ANVIL_ADMIN_USER with ANVIL_ADMIN_PASSWORD; the
 * experiment's changes are recorded under that user.
 */
public final class ShadowBenchCommand {

    public static final String USAGE = """
              shadow-bench  control p99 latency without and with SHADOW traffic on a running server
                  --url URL              server base URL (default http://localhost:8080)
                  --model NAME           model with a PRODUCTION version (default stories260k)
                  --clients N            concurrent clients of each load run (default 8)
                  --requests M           requests of each load run (default 64)
                  --max-tokens K         max_tokens per request (default 64)
                  --same-version         the shadow variant is the PRODUCTION version itself (temperature 0), so the
                                         copies run in the control's own batch at LOW priority instead of on a second
                                         loaded version
                  environment: ANVIL_ADMIN_USER (default admin), ANVIL_ADMIN_PASSWORD (required)
            """;

    private ShadowBenchCommand() {}

    public static int run(String[] args, Map<String, String> env, PrintStream out) throws IOException {
        CliArgs a = new CliArgs(
                args, Set.of("url", "model", "clients", "requests", "max-tokens"), Set.of(), Set.of("same-version"));
        String url = a.string("url", "http://localhost:8080").replaceAll("/+$", "");
        String model = a.string("model", "stories260k");
        int clients = a.integer("clients", 8, 1, 4096);
        int requests = a.integer("requests", 64, 1, 10_000_000);
        int maxTokens = a.integer("max-tokens", 64, 1, 1_000_000);
        boolean sameVersion = a.flag("same-version");
        LoadCommand.Settings load = new LoadCommand.Settings(url, model, clients, requests, maxTokens, 40, 0.8f, 300);
        ServerClient server = ServerClient.asAdmin(url, env);

        String production =
                text(server.adminGet("/api/registry/models/" + model).get("productionVersion"));
        if (production.isEmpty()) throw new CommandFailedException("model " + model + " has no PRODUCTION version");
        String path = text(server.adminGet("/api/registry/models/" + model + "/versions/" + production)
                .get("path"));
        long stamp = System.currentTimeMillis() / 1000;
        String shadow = sameVersion ? production : "0.0." + stamp;
        String experiment = "shadow-bench-" + stamp;

        out.println("control " + model + "@" + production + ": " + clients + " clients, " + requests + " requests of "
                + maxTokens + " tokens; shadow version: "
                + (sameVersion
                        ? "the control's own (" + production + ", LOW priority in its batch)"
                        : "a second loaded copy (" + shadow + ")"));
        measure(load); // warm-up, not counted
        LoadCommand.Figures baseline = measure(load);
        if (!sameVersion) {
            server.adminPost(
                    "/api/registry/models/" + model + "/versions",
                    Json.createObjectBuilder()
                            .add("version", shadow)
                            .add("path", path)
                            .build());
        }
        server.adminPost(
                "/api/experiments",
                Json.createObjectBuilder()
                        .add("name", experiment)
                        .add("model", model)
                        .add("strategy", "SHADOW")
                        .add("primaryMetric", "latency_ms")
                        .add(
                                "variants",
                                Json.createArrayBuilder()
                                        .add(Json.createObjectBuilder()
                                                .add("name", "control")
                                                .add("modelVersion", production)
                                                .add("weightPercent", 100)
                                                .add("control", true))
                                        .add(Json.createObjectBuilder()
                                                .add("name", "shadow")
                                                .add("modelVersion", shadow)
                                                .add("weightPercent", 0)
                                                .add("control", false)
                                                .add("temperature", 0)))
                        .build());
        server.adminPost("/api/experiments/" + experiment + "/start", JsonValue.EMPTY_JSON_OBJECT);
        measure(load); // the shadow version loads on the first copies: warm-up, not counted
        LoadCommand.Figures shadowed = measure(load);
        server.adminPost(
                "/api/experiments/" + experiment + "/complete",
                Json.createObjectBuilder().add("reason", "benchmark done").build());
        long comparisons = comparisons(server.adminGet("/api/experiments/" + experiment + "/results"));

        out.println("without shadow: latency p50 " + ms(baseline.latencyP50()) + " ms, p99 " + ms(baseline.latencyP99())
                + " ms");
        out.println("with shadow   : latency p50 " + ms(shadowed.latencyP50()) + " ms, p99 " + ms(shadowed.latencyP99())
                + " ms (shadow comparisons recorded: " + comparisons + ")");
        out.printf(
                Locale.ROOT,
                "control p99 with shadow / without: %.2f%n",
                shadowed.latencyP99() / baseline.latencyP99());
        return 0;
    }

    /** One load run that must succeed entirely: a failed request would make the comparison meaningless. */
    private static LoadCommand.Figures measure(LoadCommand.Settings load) throws IOException {
        LoadCommand.Figures figures = LoadCommand.measure(load);
        if (figures.failed() > 0) {
            throw new CommandFailedException(figures.failed() + " of " + figures.requests() + " load requests failed: "
                    + String.join("; ", figures.errors()));
        }
        return figures;
    }

    /** How many shadow comparisons the experiment's results count (its shadow variant's summary). */
    private static long comparisons(JsonObject results) {
        if (results.get("shadow") instanceof JsonArray summaries) {
            for (JsonValue summary : summaries) {
                if (JsonText.at(summary, "comparisons") instanceof JsonNumber n) return n.longValue();
            }
        }
        return 0;
    }

    private static String text(JsonValue value) {
        return value instanceof JsonString s ? s.getString() : "";
    }

    /** A latency as the load generator's JSON report writes it. */
    private static String ms(double value) {
        return Double.isNaN(value) ? "null" : Double.toString(value);
    }
}
