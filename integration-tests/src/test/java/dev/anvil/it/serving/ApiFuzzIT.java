package dev.anvil.it.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Thousands of generated requests to the /v1 API of the real server: bodies of the wrong types, huge and non-finite
 * numbers, deep nesting, invalid UTF-8, odd content types and methods, hostile strings, missing and unknown fields,
 * duplicate keys, truncated and non-JSON bodies, around valid requests that must still work. Every answer must be
 * a success or an error in OpenAI's shape with a useful message, never a 5xx other than 503 (overload), and the server
 * must be ready at the end. Seeded: case {@code i} of a run is always the same request, and a failure prints it.
 * Valid generations ask for at most 3 tokens so that the run stays short.
 */
@ExtendWith(AnvilServerExtension.class)
class ApiFuzzIT {

    private static final long SEED = 0xF0221L;
    private static final int CASES = 2500;

    private static final HttpClient CLIENT = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10))
            .build();

    /** One generated request. */
    record Case(
            int index,
            String method,
            String path,
            String contentType,
            byte[] body,
            Map<String, String> headers,
            String how) {
        @Override
        public String toString() {
            String shown = body == null
                    ? "(no body)"
                    : new String(body, 0, Math.min(body.length, 600), StandardCharsets.UTF_8)
                            + (body.length > 600 ? "... (" + body.length + " bytes)" : "");
            return "case " + index + " [" + how + "] " + method + " " + path + " Content-Type: " + contentType + " "
                    + headers + " body: " + shown;
        }
    }

    @Test
    void generatedRequestsGetAnAnswerOrAnOpenAiError(AnvilServer server) {
        Random random = new Random(SEED);
        Map<Integer, Integer> statuses = new TreeMap<>();
        List<String> failures = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int i = 0; i < CASES; i++) {
            Case c = new Generator(random, i).next();
            HttpResponse<byte[]> response = send(server, c);
            try {
                check(c, response);
            } catch (AssertionError e) {
                failures.add(
                        e.getMessage().length() > 1500 ? e.getMessage().substring(0, 1500) + "..." : e.getMessage());
            }
            statuses.merge(response.statusCode(), 1, Integer::sum);
        }
        long seconds = (System.nanoTime() - t0) / 1_000_000_000;
        System.out.println("ApiFuzzIT: " + CASES + " requests in " + seconds + " s, statuses " + statuses);
        // All failures at once (the first 20), so that one run shows every kind of defect.
        assertTrue(
                failures.isEmpty(),
                failures.size() + " of " + CASES + " requests failed:\n"
                        + String.join("\n\n", failures.subList(0, Math.min(20, failures.size()))));
        assertTrue(statuses.getOrDefault(200, 0) > CASES / 20, "too few valid requests to mean anything: " + statuses);
        assertTrue(statuses.getOrDefault(400, 0) > CASES / 4, statuses::toString);
        assertEquals(200, server.get("/health/ready").status());
        // The server still generates normally afterwards.
        assertEquals(
                200,
                server.post("/v1/completions", OpenAi.completion("Once upon a time", 4, ""))
                        .status());
    }

    @Test
    void bodiesNestedPastTheLimitAre400InvalidJsonOnEveryEndpoint(AnvilServer server) {
        for (String path : new String[] {"/v1/completions", "/v1/chat/completions", "/v1/embeddings", "/v1/feedback"}) {
            for (int depth : new int[] {129, 1_001, 100_000}) {
                String body = "{\"model\":\"stories260k\",\"x\":" + "[".repeat(depth) + "]".repeat(depth) + "}";
                HttpResponse<byte[]> r = send(
                        server,
                        new Case(
                                depth,
                                "POST",
                                path,
                                "application/json",
                                body.getBytes(StandardCharsets.UTF_8),
                                Map.of(),
                                "nested " + depth));
                assertEquals(
                        400,
                        r.statusCode(),
                        () -> path + " depth " + depth + ": " + new String(r.body(), StandardCharsets.UTF_8));
                JsonObject error = error(r);
                assertEquals("invalid_json", error.getString("code"), error::toString);
                assertTrue(error.getString("message").contains("anvil.api.max-json-depth"), error::toString);
            }
        }
        // 100 levels is still within the limit (and then the request is judged on its fields).
        String ok = "{\"model\":\"stories260k\",\"prompt\":\"hi\",\"max_tokens\":1,\"user\":\"u\",\"x\":"
                + "[".repeat(100) + "]".repeat(100) + "}";
        assertEquals(200, server.post("/v1/completions", ok).status());
    }

    private static HttpResponse<byte[]> send(AnvilServer server, Case c) {
        HttpRequest.BodyPublisher publisher = c.body() == null
                ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofByteArray(c.body());
        HttpRequest.Builder builder = HttpRequest.newBuilder(server.uri(c.path()))
                .timeout(Duration.ofSeconds(60))
                .method(c.method(), publisher);
        if (c.contentType() != null) builder.header("Content-Type", c.contentType());
        c.headers().forEach(builder::header);
        try {
            return CLIENT.send(builder.build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new UncheckedIOException(c + " failed; server log: " + server.serverLog(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static void check(Case c, HttpResponse<byte[]> response) {
        int status = response.statusCode();
        String text = new String(response.body(), StandardCharsets.UTF_8);
        if (status >= 500 && status != 503) {
            throw new AssertionError("HTTP " + status + " for " + c + "\nanswer: " + text);
        }
        if (status >= 400) {
            JsonObject error;
            try {
                error = error(response);
            } catch (RuntimeException e) {
                throw new AssertionError(
                        "HTTP " + status + " without an OpenAI error body for " + c + "\nanswer: " + text, e);
            }
            String message = error.get("message") instanceof jakarta.json.JsonString s ? s.getString() : "";
            if (message.length() < 10
                    || !(error.get("type") instanceof jakarta.json.JsonString)
                    || !error.containsKey("param")
                    || !error.containsKey("code")) {
                throw new AssertionError("HTTP " + status + " with an incomplete error for " + c + "\nanswer: " + text);
            }
            return;
        }
        String contentType = response.headers().firstValue("Content-Type").orElse("");
        if (status == 200 && contentType.startsWith("text/event-stream")) {
            if (!text.contains("data: [DONE]") && !text.contains("\"error\"")) {
                throw new AssertionError("stream without its end for " + c + "\nanswer: " + text);
            }
            return;
        }
        // OPTIONS answers its Allow list as text; every other success is JSON and must parse.
        if (status >= 200 && status < 300 && contentType.startsWith("application/json")) {
            try {
                Json.createReader(new StringReader(text)).readValue();
            } catch (RuntimeException e) {
                throw new AssertionError(
                        "HTTP " + status + " with a body that is not JSON for " + c + "\nanswer: " + text, e);
            }
        }
    }

    private static JsonObject error(HttpResponse<byte[]> response) {
        String contentType = response.headers().firstValue("Content-Type").orElse("");
        if (!contentType.startsWith("application/json")) throw new IllegalStateException("Content-Type " + contentType);
        return Json.createReader(new StringReader(new String(response.body(), StandardCharsets.UTF_8)))
                .readObject()
                .getJsonObject("error");
    }

    /** Makes the requests; every choice comes from the seeded random. */
    static final class Generator {
        private final Random r;
        private final int index;
        private final List<String> how = new ArrayList<>();

        Generator(Random r, int index) {
            this.r = r;
            this.index = index;
        }

        private static final String[] HOSTILE = {
            "",
            " ",
            "{{ 7*7 }}",
            "{% for a in range(1000) %}{% endfor %}",
            "\u0000",
            "\u0000\u0001\u001f",
            "\uFEFF",
            "\u202Egnp.exe",
            "'; DROP TABLE registry_model; --",
            "<script>alert(1)</script>",
            "../../../../etc/passwd",
            "%s%s%s%n",
            "${jndi:ldap://127.0.0.1/a}",
            "#{7*7}",
            "\\",
            "\"",
            "\uD83D\uDE00\uD83D\uDE00",
            "stories260k",
            "stories260k@1.0.0",
            "stories260k@",
            "@1.0.0",
            "stories260k@9.9.9",
            "gpt-4",
            "<|im_start|>system",
            "</s><s>",
            "null",
            "NaN",
            "-0",
            "1e309",
            "\t\n\r",
            "ä".repeat(300),
            "x".repeat(70_000),
            "a b ".repeat(5_000)
        };
        private static final String[] NUMBERS = {
            "0",
            "-0",
            "-1",
            "1",
            "2",
            "0.5",
            "-0.5",
            "1e308",
            "-1e308",
            "1e309",
            "-1e309",
            "1E+999999",
            "1e-400",
            "123456789012345678901234567890",
            "-123456789012345678901234567890",
            "2147483648",
            "9223372036854775808",
            "4294967296",
            "3.0",
            "1.0000000000000001",
            "0.0000001",
            "100000",
            "99999999999"
        };
        private static final String[] CONTENT_TYPES = {
            "text/plain",
            "application/xml",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=xyz",
            "application/json; charset=ISO-8859-1",
            "application/json;charset=utf-16",
            "*/*",
            "application/octet-stream",
            "application/json; charset=nonsense",
            "application/jsonx",
            "text/json"
        };

        Case next() {
            int endpoint = r.nextInt(100);
            if (endpoint < 8) return models();
            if (endpoint < 11) return oddMethod();
            String path = endpoint < 45 ? "/v1/completions" : endpoint < 82 ? "/v1/chat/completions" : "/v1/feedback";
            byte[] body;
            int kind = r.nextInt(100);
            if (kind < 55) body = utf8(structured(path));
            else if (kind < 70) body = utf8(raw(path));
            else if (kind < 78) body = badUtf8(path);
            else if (kind < 86) body = utf8(nested());
            else if (kind < 93) body = utf8(duplicateKeys(path));
            else body = utf8(truncated(path));
            String contentType = "application/json";
            int ct = r.nextInt(100);
            if (ct < 8) {
                contentType = CONTENT_TYPES[r.nextInt(CONTENT_TYPES.length)];
                how.add("content type " + contentType);
            } else if (ct < 10) {
                contentType = null;
                how.add("no content type");
            }
            return new Case(index, "POST", path, contentType, body, headers(), String.join("; ", how));
        }

        private Map<String, String> headers() {
            Map<String, String> h = new LinkedHashMap<>();
            // Most requests skip the response cache so that valid ones really generate.
            if (r.nextInt(4) > 0) h.put("Cache-Control", r.nextBoolean() ? "no-store" : "no-cache");
            int extra = r.nextInt(40);
            if (extra == 0) h.put("Authorization", "Bearer anv-" + "x".repeat(43));
            else if (extra == 1) h.put("Authorization", "Bearer sk-not-an-anvil-key");
            else if (extra == 2) h.put("Authorization", "Basic " + "!!!");
            else if (extra == 3) h.put("X-Anvil-User", "u".repeat(5000));
            else if (extra == 4) h.put("Accept", "application/xml");
            else if (extra == 5) h.put("Content-Length-Extra", "1");
            if (h.size() > 1 || extra < 6) how.add("headers " + h.keySet());
            return h;
        }

        private Case models() {
            String[] queries = {
                "",
                "?limit=-1",
                "?x=%25ZZ%00",
                "?" + "a=1&".repeat(200),
                "/stories260k",
                "/nope",
                "/%00",
                "/stories260k@1.0.0",
                "?after=" + "x".repeat(2000)
            };
            String q = queries[r.nextInt(queries.length)];
            how.add("models " + (q.length() > 40 ? q.substring(0, 40) + "..." : q));
            return new Case(index, "GET", "/v1/models" + q, null, null, headers(), String.join("; ", how));
        }

        private Case oddMethod() {
            String[] methods = {"PUT", "DELETE", "PATCH", "GET", "OPTIONS"};
            String[] paths = {
                "/v1/completions", "/v1/chat/completions", "/v1/feedback", "/v1/models", "/v1/", "/v1/nope"
            };
            String m = methods[r.nextInt(methods.length)], p = paths[r.nextInt(paths.length)];
            how.add("method " + m);
            byte[] body = m.equals("GET") || m.equals("OPTIONS") ? null : utf8("{}");
            return new Case(
                    index, m, p, body == null ? null : "application/json", body, Map.of(), String.join("; ", how));
        }

        // --- bodies ---------------------------------------------------------------------------------------------

        /** A valid request of the endpoint, then 0 to 3 mutations of its fields. */
        private String structured(String path) {
            Map<String, String> fields = new LinkedHashMap<>(valid(path));
            int mutations = r.nextInt(4);
            if (mutations == 0) how.add("valid");
            for (int m = 0; m < mutations; m++) {
                List<String> keys = new ArrayList<>(fields.keySet());
                switch (keys.isEmpty() ? 1 : r.nextInt(4)) {
                    case 0 -> { // drop a field (never the token limit: a generation without one runs to the context
                        // end)
                        String k = keys.get(r.nextInt(keys.size()));
                        if (!isTokenLimit(k)) {
                            fields.remove(k);
                            how.add("without " + k);
                        }
                    }
                    case 1 -> { // an unknown or optional field with any value
                        String k = randomFieldName();
                        fields.put(k, value(2));
                        how.add("extra " + k);
                    }
                    default -> { // a field's value replaced
                        String k = keys.get(r.nextInt(keys.size()));
                        String v = isTokenLimit(k) ? badTokenLimit() : value(2);
                        fields.put(k, v);
                        how.add(k + " = " + abbreviate(v));
                    }
                }
            }
            return object(fields);
        }

        private static boolean isTokenLimit(String key) {
            return key.equals("max_tokens") || key.equals("max_completion_tokens");
        }

        /** Token limits that are invalid or small: a valid large one would generate for seconds. */
        private String badTokenLimit() {
            String[] values = {
                "0", "-1", "1.5", "\"3\"", "[]", "{}", "true", "1e20", "9223372036854775808", "-2147483649", "2", "1"
            };
            return values[r.nextInt(values.length)];
        }

        private Map<String, String> valid(String path) {
            Map<String, String> f = new LinkedHashMap<>();
            switch (path) {
                case "/v1/completions" -> {
                    f.put("model", quote(r.nextInt(6) == 0 ? "stories260k@1.0.0" : "stories260k"));
                    f.put(
                            "prompt",
                            r.nextInt(5) == 0 ? "[" + quote("Once") + "," + quote("Lily") + "]" : quote(prompt()));
                    f.put("max_tokens", String.valueOf(1 + r.nextInt(3)));
                    if (r.nextBoolean()) f.put("temperature", r.nextBoolean() ? "0" : "0.8");
                    if (r.nextInt(4) == 0) f.put("stream", "true");
                    if (r.nextInt(6) == 0) f.put("n", String.valueOf(1 + r.nextInt(3)));
                    if (r.nextInt(6) == 0) f.put("logprobs", String.valueOf(r.nextInt(3)));
                    if (r.nextInt(8) == 0) f.put("echo", "true");
                    if (r.nextInt(6) == 0) f.put("stop", "[" + quote(".") + "]");
                    if (r.nextInt(6) == 0) f.put("seed", String.valueOf(r.nextInt(1000)));
                }
                case "/v1/chat/completions" -> {
                    f.put("model", quote("stories260k"));
                    StringBuilder messages = new StringBuilder("[");
                    int n = 1 + r.nextInt(3);
                    for (int i = 0; i < n; i++) {
                        String role = i == 0 && r.nextInt(4) == 0 ? "system" : i % 2 == 0 ? "user" : "assistant";
                        if (i > 0) messages.append(',');
                        messages.append("{\"role\":")
                                .append(quote(role))
                                .append(",\"content\":")
                                .append(quote(prompt()))
                                .append('}');
                    }
                    f.put("messages", messages.append(']').toString());
                    f.put("max_tokens", String.valueOf(1 + r.nextInt(3)));
                    if (r.nextBoolean()) f.put("temperature", "0");
                    if (r.nextInt(4) == 0) f.put("stream", "true");
                    if (r.nextInt(6) == 0) f.put("logprobs", "true");
                    if (r.nextInt(8) == 0) f.put("response_format", "{\"type\":\"json_object\"}");
                    if (r.nextInt(10) == 0)
                        f.put(
                                "response_format",
                                "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"s\","
                                        + "\"schema\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"pattern\":\"^(a+)+$\"}}}}}");
                }
                default -> {
                    f.put("response_id", quote("chatcmpl-fuzz" + r.nextInt(100)));
                    f.put("rating", String.valueOf(r.nextInt(3) - 1));
                    if (r.nextBoolean()) f.put("comment", quote(prompt()));
                    if (r.nextInt(4) == 0) f.put("scale", quote(r.nextBoolean() ? "stars" : "thumbs"));
                }
            }
            return f;
        }

        private String prompt() {
            return r.nextInt(3) == 0 ? HOSTILE[r.nextInt(HOSTILE.length)] : "Once upon a time";
        }

        private String randomFieldName() {
            String[] names = {
                "stop",
                "n",
                "logprobs",
                "top_logprobs",
                "seed",
                "user",
                "presence_penalty",
                "frequency_penalty",
                "top_p",
                "temperature",
                "stream",
                "stream_options",
                "response_format",
                "echo",
                "suffix",
                "best_of",
                "logit_bias",
                "tools",
                "functions",
                "model",
                "prompt",
                "messages",
                "rating",
                "scale",
                "comment",
                "response_id",
                "__proto__",
                "",
                "x".repeat(300),
                "\u0000",
                "unknown_" + r.nextInt(10)
            };
            return names[r.nextInt(names.length)];
        }

        /** Any JSON value, with a bias towards the edge cases. */
        private String value(int depth) {
            int k = r.nextInt(depth <= 0 ? 6 : 9);
            return switch (k) {
                case 0 -> "null";
                case 1 -> r.nextBoolean() ? "true" : "false";
                case 2, 3 -> NUMBERS[r.nextInt(NUMBERS.length)];
                case 4, 5 -> quote(HOSTILE[r.nextInt(HOSTILE.length)]);
                case 6 -> {
                    StringBuilder a = new StringBuilder("[");
                    int n = r.nextInt(5);
                    for (int i = 0; i < n; i++) a.append(i > 0 ? "," : "").append(value(depth - 1));
                    yield a.append(']').toString();
                }
                case 7 -> {
                    Map<String, String> o = new LinkedHashMap<>();
                    int n = r.nextInt(4);
                    for (int i = 0; i < n; i++) o.put(randomFieldName(), value(depth - 1));
                    yield object(o);
                }
                default -> "[{\"role\":" + value(0) + ",\"content\":" + value(0) + "}]";
            };
        }

        /** Not JSON, or JSON that is not an object, or JSON-like with non-finite numbers. */
        private String raw(String path) {
            String[] bodies = {
                "",
                " ",
                "null",
                "[]",
                "[1,2]",
                "\"a string\"",
                "42",
                "true",
                "{",
                "}",
                "{]",
                "{\"model\":}",
                "{\"max_tokens\":NaN}",
                "{\"temperature\":Infinity,\"model\":\"stories260k\",\"prompt\":\"x\",\"max_tokens\":1}",
                "{\"temperature\":-Infinity}",
                "{'model':'stories260k'}",
                "{model:stories260k}",
                "<xml/>",
                "model=stories260k&prompt=hi",
                "{\"a\":1}{\"b\":2}",
                "{\"a\":1,}",
                "[{}",
                "\u0000\u0000",
                "{\"model\":\"stories260k\",\"prompt\":\"hi\"" + ",\"x\":1".repeat(20_000) + "}",
                "{\"n\":01}",
                "{\"n\":1.}",
                "{\"n\":.5}",
                "{\"n\":+1}",
                "{\"n\":0x10}",
                "{\"s\":\"\\x41\"}",
                "{\"s\":\"\\uZZZZ\"}",
                "{\"s\":\"\\uD800\"}",
                "{\"s\":\"\\uDC00\\uD800\"}",
                "{\"s\":\"tab\tinside\"}",
                "{\"s\":\"new\nline\"}"
            };
            String b = bodies[r.nextInt(bodies.length)];
            how.add("raw " + abbreviate(b));
            return b;
        }

        private byte[] badUtf8(String path) {
            byte[][] bad = {
                {(byte) 0xC3, 0x28},
                {(byte) 0xFF},
                {(byte) 0xFE, (byte) 0xFF},
                {(byte) 0xED, (byte) 0xA0, (byte) 0x80},
                {(byte) 0xF8, (byte) 0x88, (byte) 0x80, (byte) 0x80, (byte) 0x80},
                {(byte) 0xC0, (byte) 0xAF},
                {(byte) 0xE2, (byte) 0x82}
            };
            byte[] insert = bad[r.nextInt(bad.length)];
            String field = path.endsWith("completions") ? (path.contains("chat") ? "content" : "prompt") : "comment";
            String template = path.equals("/v1/chat/completions")
                    ? "{\"model\":\"stories260k\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"A%sB\"}]}"
                    : path.equals("/v1/completions")
                            ? "{\"model\":\"stories260k\",\"max_tokens\":1,\"prompt\":\"A%sB\"}"
                            : "{\"response_id\":\"x%s\",\"rating\":1}";
            String[] parts = template.split("%s");
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            out.writeBytes(utf8(parts[0]));
            out.writeBytes(insert);
            out.writeBytes(utf8(parts[1]));
            how.add("invalid UTF-8 in " + field);
            return out.toByteArray();
        }

        private String nested() {
            int depth = new int[] {10, 64, 127, 200, 1500, 20_000}[r.nextInt(6)];
            String open = r.nextBoolean() ? "[" : "{\"a\":";
            String close = open.equals("[") ? "]" : "}";
            how.add("nested " + depth);
            return "{\"model\":\"stories260k\",\"max_tokens\":1,\"prompt\":\"x\",\"deep\":" + open.repeat(depth)
                    + (open.equals("[") ? "" : "1") + close.repeat(depth) + "}";
        }

        private String duplicateKeys(String path) {
            Map<String, String> f = valid(path);
            String k = new ArrayList<>(f.keySet()).get(r.nextInt(f.size()));
            String second = isTokenLimit(k) ? badTokenLimit() : value(1);
            how.add("duplicate " + k + " = " + abbreviate(second));
            String o = object(f);
            return o.substring(0, o.length() - 1) + "," + quote(k) + ":" + second + "}";
        }

        private String truncated(String path) {
            String o = object(valid(path));
            int cut = r.nextInt(o.length());
            how.add("truncated at " + cut);
            return o.substring(0, cut);
        }

        private static String object(Map<String, String> fields) {
            StringBuilder b = new StringBuilder("{");
            fields.forEach((k, v) -> b.append(b.length() > 1 ? "," : "")
                    .append(quote(k))
                    .append(':')
                    .append(v));
            return b.append('}').toString();
        }

        private static String quote(String s) {
            return Json.createValue(s).toString();
        }

        private static byte[] utf8(String s) {
            return s.getBytes(StandardCharsets.UTF_8);
        }

        private static String abbreviate(String s) {
            return s.length() > 60 ? s.substring(0, 60) + "...(" + s.length() + ")" : s;
        }
    }
}
