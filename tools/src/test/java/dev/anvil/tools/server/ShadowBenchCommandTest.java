package dev.anvil.tools.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.tools.AnvilCli;
import dev.anvil.tools.JsonText;
import dev.anvil.tools.server.StandInServer.Answer;
import jakarta.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The shadow benchmark against a stand-in server with a registry, experiments and a streaming completions API. */
class ShadowBenchCommandTest {

    private static final String ADMIN =
            "Basic " + Base64.getEncoder().encodeToString("admin:secret".getBytes(StandardCharsets.UTF_8));
    private static final Map<String, String> ENV = Map.of("ANVIL_ADMIN_PASSWORD", "secret");

    record Run(int status, String out, String err) {}

    static Run run(Map<String, String> env, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        List<String> command = new ArrayList<>(List.of("shadow-bench"));
        command.addAll(List.of(args));
        int status = AnvilCli.run(
                command.toArray(String[]::new),
                env,
                new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static Answer admin(StandInServer.Request r, int status, String body) {
        return ADMIN.equals(r.header("Authorization")) ? Answer.json(status, body) : Answer.json(401, "{}");
    }

    /** Model "tiny" with PRODUCTION version 1.0.0; every experiment's results count 12 shadow comparisons. */
    private static StandInServer server(String productionVersion) {
        StandInServer server = new StandInServer();
        server.route(
                "GET /api/registry/models/tiny",
                r -> admin(
                        r,
                        200,
                        productionVersion == null
                                ? "{\"name\":\"tiny\",\"productionVersion\":null}"
                                : "{\"name\":\"tiny\",\"productionVersion\":\"" + productionVersion + "\"}"));
        server.route(
                "GET /api/registry/models/tiny/versions/1.0.0",
                r -> admin(r, 200, "{\"version\":\"1.0.0\",\"path\":\"/models/tiny.gguf\"}"));
        server.route("POST /api/registry/models/tiny/versions", r -> admin(r, 201, r.body()));
        server.route("POST /api/experiments", r -> {
            String name = JsonText.object(r.body()).getString("name");
            server.route("POST /api/experiments/" + name + "/start", s -> admin(s, 200, "{\"status\":\"RUNNING\"}"));
            server.route(
                    "POST /api/experiments/" + name + "/complete", s -> admin(s, 200, "{\"status\":\"COMPLETED\"}"));
            server.route(
                    "GET /api/experiments/" + name + "/results",
                    s -> admin(
                            s,
                            200,
                            "{\"comparisons\":[{\"variant\":\"shadow\"}],\"experiment\":\"" + name
                                    + "\",\"shadow\":[{\"comparisons\":12,\"variant\":\"shadow\"}]}"));
            return admin(r, 201, r.body());
        });
        server.route(
                "POST /v1/completions",
                r -> new Answer(
                        200,
                        "text/event-stream",
                        "data: {\"choices\":[{\"index\":0,\"text\":\" once\"}]}\n\n"
                                + "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":40,\"completion_tokens\":1,\"total_tokens\":41}}\n\n"
                                + "data: [DONE]\n\n"));
        return server;
    }

    @Test
    void measuresWithoutThenWithAShadowExperimentOnASecondVersion() {
        try (StandInServer server = server("1.0.0")) {
            Run r = run(
                    ENV,
                    "--url",
                    server.url(),
                    "--model",
                    "tiny",
                    "--clients",
                    "2",
                    "--requests",
                    "3",
                    "--max-tokens",
                    "5");
            assertEquals(0, r.status(), r.err());

            JsonObject registered = JsonText.object(server.requests("POST /api/registry/models/tiny/versions")
                    .getFirst()
                    .body());
            String shadow = registered.getString("version");
            assertTrue(shadow.matches("0\\.0\\.[0-9]+"), shadow);
            assertEquals(
                    "/models/tiny.gguf",
                    registered.getString("path"),
                    "the shadow is the PRODUCTION version's artifact");
            JsonObject experiment = JsonText.object(
                    server.requests("POST /api/experiments").getFirst().body());
            assertEquals("shadow-bench-" + shadow.substring(4), experiment.getString("name"));
            assertEquals("tiny", experiment.getString("model"));
            assertEquals("SHADOW", experiment.getString("strategy"));
            assertEquals("latency_ms", experiment.getString("primaryMetric"));
            JsonObject control = experiment.getJsonArray("variants").getJsonObject(0);
            JsonObject copy = experiment.getJsonArray("variants").getJsonObject(1);
            assertEquals(
                    "{\"name\":\"control\",\"modelVersion\":\"1.0.0\",\"weightPercent\":100,\"control\":true}",
                    control.toString());
            assertEquals(
                    "{\"name\":\"shadow\",\"modelVersion\":\"" + shadow
                            + "\",\"weightPercent\":0,\"control\":false,\"temperature\":0}",
                    copy.toString());
            String name = experiment.getString("name");
            assertEquals(
                    1,
                    server.requests("POST /api/experiments/" + name + "/start").size());
            assertEquals(
                    "benchmark done",
                    JsonText.object(server.requests("POST /api/experiments/" + name + "/complete")
                                    .getFirst()
                                    .body())
                            .getString("reason"));
            // Four load runs (two warm-ups, two measured) of one calibrating request and three measured ones.
            List<StandInServer.Request> completions = server.requests("POST /v1/completions");
            assertEquals(16, completions.size());
            JsonObject body = JsonText.object(completions.getLast().body());
            assertEquals("tiny", body.getString("model"));
            assertEquals(5, body.getInt("max_tokens"));

            List<String> lines = r.out().lines().toList();
            assertEquals(4, lines.size(), r.out());
            assertEquals(
                    "control tiny@1.0.0: 2 clients, 3 requests of 5 tokens; shadow version: a second loaded copy ("
                            + shadow + ")",
                    lines.get(0));
            assertTrue(lines.get(1).matches("without shadow: latency p50 [0-9.E]+ ms, p99 [0-9.E]+ ms"), lines.get(1));
            assertTrue(
                    lines.get(2)
                            .matches(
                                    "with shadow   : latency p50 [0-9.E]+ ms, p99 [0-9.E]+ ms \\(shadow comparisons recorded: 12\\)"),
                    lines.get(2));
            assertTrue(lines.get(3).matches("control p99 with shadow / without: [0-9]+\\.[0-9]{2}"), lines.get(3));
        }
    }

    @Test
    void sameVersionShadowsTheProductionVersionItself() {
        try (StandInServer server = server("1.0.0")) {
            Run r = run(
                    ENV,
                    "--url",
                    server.url(),
                    "--model",
                    "tiny",
                    "--clients",
                    "1",
                    "--requests",
                    "1",
                    "--same-version");
            assertEquals(0, r.status(), r.err());
            assertEquals(
                    0,
                    server.requests("POST /api/registry/models/tiny/versions").size(),
                    "no second version is registered");
            JsonObject experiment = JsonText.object(
                    server.requests("POST /api/experiments").getFirst().body());
            assertEquals(
                    "1.0.0",
                    experiment.getJsonArray("variants").getJsonObject(1).getString("modelVersion"));
            assertTrue(
                    r.out()
                            .startsWith(
                                    "control tiny@1.0.0: 1 clients, 1 requests of 64 tokens; shadow version: the control's own "
                                            + "(1.0.0, LOW priority in its batch)\n"),
                    r.out());
        }
    }

    @Test
    void refusesAModelWithoutProductionVersionAndUnknownOptions() {
        try (StandInServer server = server(null)) {
            Run r = run(ENV, "--url", server.url(), "--model", "tiny");
            assertEquals(1, r.status());
            assertTrue(r.err().contains("model tiny has no PRODUCTION version"), r.err());
            assertEquals(0, server.requests("POST /v1/completions").size());

            Run missing = run(Map.of(), "--url", server.url(), "--model", "tiny");
            assertEquals(1, missing.status());
            assertTrue(missing.err().contains("set ANVIL_ADMIN_PASSWORD"), missing.err());

            Run unknown = run(ENV, "--url", server.url(), "--shadow-weight", "5");
            assertEquals(2, unknown.status());
            assertTrue(unknown.err().contains("unknown option --shadow-weight"), unknown.err());
        }
    }
}
