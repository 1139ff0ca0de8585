package dev.anvil.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.tools.server.MetricSamples;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import jakarta.json.JsonValue;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The Grafana dashboard in {@code server-config/src/main/grafana/anvil-dashboard.json} queries only metrics the
 * server exports: after traffic that exercises what the dashboard shows (generation, streaming, a response-cache hit,
 * a guardrail finding, an A/B experiment, a cost-aware router whose cascade escalates), every metric name in every
 * panel's PromQL is in {@code /metrics}.
 */
@ExtendWith(AnvilServerExtension.class)
class GrafanaDashboardIT {

    static final Path DASHBOARD = Path.of("../server-config/src/main/grafana/anvil-dashboard.json");

    private static final Map<String, String> JSON = Map.of("Content-Type", "application/json");

    /** PromQL words that are not metric names (aggregation modifiers, set operators). */
    private static final Set<String> KEYWORDS = Set.of(
            "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset");

    private static final Pattern IDENTIFIER = Pattern.compile("[A-Za-z_:][A-Za-z0-9_:]*");

    @Test
    void everyQueriedMetricIsExportedAfterTraffic(AnvilServer server) throws IOException {
        JsonObject dashboard = read(DASHBOARD);
        Set<String> queried = new TreeSet<>();
        for (String expr : expressions(dashboard)) queried.addAll(metricNames(expr));
        assertTrue(
                queried.size() >= 30, "the dashboard queries the serving, cache, gateway and JVM metrics: " + queried);
        assertTrue(
                queried.containsAll(Set.of(
                        "anvil_router_requests_total", "anvil_router_escalations_total", "anvil_router_savings")),
                "the dashboard shows the cost-aware routers: " + queried);

        traffic(server);

        HttpResult metrics = server.get("/metrics");
        assertEquals(200, metrics.status(), metrics::toString);
        Set<String> exported = new HashSet<>();
        for (MetricSamples.Sample s : MetricSamples.parse(metrics.body()).all()) exported.add(s.name());
        List<String> missing =
                queried.stream().filter(m -> !exported.contains(m)).toList();
        assertTrue(missing.isEmpty(), "metrics the dashboard queries that /metrics does not export: " + missing);
    }

    @Test
    void panelsAreWellFormed() throws IOException {
        JsonObject dashboard = read(DASHBOARD);
        Set<String> variables = new HashSet<>();
        for (JsonValue v : dashboard.getJsonObject("templating").getJsonArray("list")) {
            variables.add(v.asJsonObject().getString("name"));
        }
        Set<Integer> ids = new HashSet<>();
        for (JsonObject panel : panels(dashboard)) {
            assertTrue(ids.add(panel.getInt("id")), "panel ids are unique: " + panel.getInt("id"));
            JsonObject grid = panel.getJsonObject("gridPos");
            assertTrue(grid.getInt("x") + grid.getInt("w") <= 24, "panel fits Grafana's 24 columns: " + panel);
            if (panel.getString("type").equals("row")) continue;
            assertFalse(panel.getJsonArray("targets").isEmpty(), "a panel queries something: " + panel);
            assertEquals("${datasource}", panel.getJsonObject("datasource").getString("uid"), panel::toString);
            for (JsonValue t : panel.getJsonArray("targets")) {
                Matcher ref =
                        Pattern.compile("\\$(\\w+)").matcher(t.asJsonObject().getString("expr"));
                while (ref.find()) {
                    String name = ref.group(1);
                    assertTrue(
                            name.startsWith("__") || variables.contains(name),
                            "variable $" + name + " is defined in the dashboard's templating: " + t);
                }
            }
        }
    }

    /** Requests that make every series the dashboard shows exist (some appear only once something happened). */
    private static void traffic(AnvilServer server) {
        String completion =
                "{\"model\":\"stories260k\",\"prompt\":\"Once upon a time\",\"max_tokens\":8,\"temperature\":0}";
        HttpResult first = server.post("/v1/completions", completion);
        assertEquals(200, first.status(), first::toString);
        // A repeat is a response-cache hit once the first answer is stored (written after the answer, so a repeat
        // sent at once can still miss on a loaded host).
        HttpResult hit = Eventually.until(
                () -> server.post("/v1/completions", completion),
                r -> r.status() != 200
                        || "hit".equals(r.headers().firstValue("X-Anvil-Cache").orElse("")),
                Duration.ofSeconds(20));
        assertEquals(200, hit.status(), hit::toString);
        assertEquals("hit", hit.headers().firstValue("X-Anvil-Cache").orElse(""), hit::toString);
        HttpResult streamed = server.post(
                "/v1/chat/completions",
                "{\"model\":\"stories260k\",\"stream\":true,\"max_tokens\":4,"
                        + "\"messages\":[{\"role\":\"user\",\"content\":\"Write to tom@example.com\"}]}");
        assertEquals(200, streamed.status(), streamed::toString); // the e-mail address is a flagged PII finding

        routedTraffic(server);

        String model = "dashboard-" + Long.toString(System.nanoTime(), 36);
        String experiment = model + "-ab";
        TestModel.register(server, model, "1.0.0", "1.1.0");
        try {
            JsonObject ab = Json.createObjectBuilder()
                    .add("name", experiment)
                    .add("model", model)
                    .add("strategy", "AB")
                    .add("primaryMetric", "error_rate")
                    .add("minimumSample", 5)
                    .add(
                            "variants",
                            Json.createArrayBuilder()
                                    .add(variant("control", "1.0.0", 50, true))
                                    .add(variant("candidate", "1.1.0", 50, false)))
                    .build();
            HttpResult created = server.request("POST", "/api/experiments", ab.toString(), JSON);
            assertEquals(201, created.status(), created::toString);
            HttpResult started = server.request("POST", "/api/experiments/" + experiment + "/start", "{}", JSON);
            assertEquals(200, started.status(), started::toString);
            for (int u = 0; u < 4; u++) {
                HttpResult r = server.post(
                        "/v1/completions",
                        "{\"model\":\"" + model + "\",\"prompt\":\"Once\",\"max_tokens\":2,\"user\":\"u" + u + "\"}");
                assertEquals(200, r.status(), r::toString);
            }
            server.request("POST", "/api/experiments/" + experiment + "/complete", "{\"reason\":\"test over\"}", JSON);
        } finally {
            for (String v : List.of("1.0.0", "1.1.0")) {
                server.request(
                        "POST",
                        "/api/registry/models/" + model + "/versions/" + v + "/stage",
                        "{\"stage\":\"ARCHIVED\"}",
                        JSON);
            }
        }
    }

    /**
     * A router of stories260k and a model of its own (the same file under another name), whose cascade always
     * escalates (no tiny model's mean log-probability reaches -0.0001): its requests, escalations and savings exist.
     */
    private static void routedTraffic(AnvilServer server) {
        String large = "dashboard-large-" + Long.toString(System.nanoTime(), 36);
        String router = "dashboard-auto-" + Long.toString(System.nanoTime(), 36);
        TestModel.register(server, large, "1.0.0");
        TestModel.moveStage(server, large, "1.0.0", "PRODUCTION", "dashboard test");
        try {
            HttpResult defined = server.put(
                    "/api/routers/" + router,
                    "{\"candidates\":[{\"model\":\"stories260k\"},{\"model\":\"" + large + "\"}],"
                            + "\"cascade\":{\"enabled\":true,\"minMeanLogprob\":-0.0001}}");
            assertEquals(200, defined.status(), defined::toString);
            HttpResult r = server.post("/v1/completions", TestModel.greedyCompletion(router, "Once upon a time", 4));
            assertEquals(200, r.status(), r::toString);
            assertEquals("escalated", r.headers().firstValue("X-Anvil-Cascade").orElse(""), r::toString);
            assertEquals(204, server.delete("/api/routers/" + router).status());
        } finally {
            server.request(
                    "POST",
                    "/api/registry/models/" + large + "/versions/1.0.0/stage",
                    "{\"stage\":\"ARCHIVED\"}",
                    JSON);
        }
    }

    private static jakarta.json.JsonObjectBuilder variant(String name, String version, int weight, boolean control) {
        return Json.createObjectBuilder()
                .add("name", name)
                .add("modelVersion", version)
                .add("weightPercent", weight)
                .add("control", control);
    }

    static JsonObject read(Path file) throws IOException {
        assertTrue(Files.isRegularFile(file), "dashboard missing: " + file.toAbsolutePath());
        try (JsonReader reader = Json.createReader(Files.newBufferedReader(file))) {
            return reader.readObject();
        }
    }

    /** Every panel, those inside collapsed rows included. */
    private static List<JsonObject> panels(JsonObject dashboard) {
        List<JsonObject> all = new ArrayList<>();
        for (JsonValue p : dashboard.getJsonArray("panels")) {
            all.add(p.asJsonObject());
            if (p.asJsonObject().containsKey("panels")) {
                for (JsonValue inner : p.asJsonObject().getJsonArray("panels")) all.add(inner.asJsonObject());
            }
        }
        return all;
    }

    private static List<String> expressions(JsonObject dashboard) {
        List<String> exprs = new ArrayList<>();
        for (JsonObject panel : panels(dashboard)) {
            if (!panel.containsKey("targets")) continue;
            for (JsonValue t : panel.getJsonArray("targets"))
                exprs.add(t.asJsonObject().getString("expr"));
        }
        for (JsonValue v : dashboard.getJsonObject("templating").getJsonArray("list")) {
            JsonObject variable = v.asJsonObject();
            if (variable.getString("type").equals("query")) exprs.add(variable.getString("definition"));
        }
        return exprs;
    }

    /**
     * The metric names in a PromQL expression: what is left once strings, label matchers, range selectors and
     * grouping clauses are removed, without function names (followed by '(') and keywords.
     */
    static Set<String> metricNames(String expr) {
        String bare = expr.replaceAll("\"(\\\\.|[^\"\\\\])*\"", "\"\"")
                .replaceAll("\\{[^}]*}", " ")
                .replaceAll("\\[[^]]*]", " ")
                .replaceAll("\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)", " ");
        // label_values(metric, label): the label is not a metric.
        bare = bare.replaceAll("label_values\\(\\s*([A-Za-z_:][A-Za-z0-9_:]*)\\s*,[^)]*\\)", "$1");
        Set<String> names = new TreeSet<>();
        Matcher m = IDENTIFIER.matcher(bare);
        while (m.find()) {
            String word = m.group();
            int after = m.end();
            while (after < bare.length() && Character.isWhitespace(bare.charAt(after))) after++;
            boolean function = after < bare.length() && bare.charAt(after) == '(';
            boolean number = m.start() > 0 && Character.isDigit(bare.charAt(m.start() - 1));
            if (!function && !number && !KEYWORDS.contains(word)) names.add(word);
        }
        return names;
    }
}
