package dev.anvil.it.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.HttpResult;
import jakarta.json.JsonObject;
import jakarta.json.JsonValue;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * The operations of the server's own OpenAPI document ({@code /openapi?format=JSON}), with the security requirement
 * each declares, and the ways a caller can spell a path that a router might treat differently from an authorization
 * check: what the access-control ITs send.
 */
final class ApiOperations {

    static final List<String> METHODS = List.of("GET", "POST", "PUT", "DELETE", "PATCH");

    /** One operation: method, path template, and the names of its security requirements (empty: public). */
    record Operation(String method, String template, Set<String> security) {
        boolean admin() {
            return security.contains("admin");
        }

        boolean apiKey() {
            return security.contains("apiKey");
        }

        /** The template with each {@code {param}} replaced by {@code values.apply(param)}. */
        String path(Function<String, String> values) {
            StringBuilder out = new StringBuilder();
            int at = 0;
            while (at < template.length()) {
                int open = template.indexOf('{', at);
                if (open < 0) {
                    out.append(template.substring(at));
                    break;
                }
                int close = template.indexOf('}', open);
                out.append(template, at, open);
                String spec = template.substring(open + 1, close);
                out.append(values.apply(
                        spec.contains(":")
                                ? spec.substring(0, spec.indexOf(':')).strip()
                                : spec));
                at = close + 1;
            }
            return out.toString();
        }

        @Override
        public String toString() {
            return method + " " + template + " " + security;
        }
    }

    /** A spelling of a concrete path, with what it does to it. */
    record Variant(String how, String path) {}

    private ApiOperations() {}

    static List<Operation> of(AnvilServer server) {
        HttpResult document = server.get("/openapi?format=JSON");
        assertEquals(200, document.status(), document::toString);
        JsonObject paths = document.json().getJsonObject("paths");
        List<Operation> operations = new ArrayList<>();
        for (Map.Entry<String, JsonValue> path : paths.entrySet()) {
            JsonObject item = path.getValue().asJsonObject();
            for (String method : METHODS) {
                JsonObject operation = item.getJsonObject(method.toLowerCase(Locale.ROOT));
                if (operation == null) continue;
                Set<String> security = new LinkedHashSet<>();
                if (operation.containsKey("security")) {
                    operation
                            .getJsonArray("security")
                            .forEach(r -> security.addAll(r.asJsonObject().keySet()));
                }
                operations.add(new Operation(method, path.getKey(), security));
            }
        }
        return operations;
    }

    /**
     * Spellings of {@code path} (which starts with '/'): a matrix parameter on each segment, a percent-escaped
     * character in each segment, an escaped slash, doubled and trailing slashes, dot segments, changed case.
     */
    static List<Variant> variants(String path) {
        List<Variant> variants = new ArrayList<>();
        String[] segments = path.substring(1).split("/", -1);
        for (int i = 0; i < segments.length; i++) {
            variants.add(new Variant("matrix parameter on segment " + i, join(segments, i, segments[i] + ";x=1")));
            variants.add(new Variant("empty matrix parameter on segment " + i, join(segments, i, segments[i] + ";")));
            String segment = segments[i];
            int letter = firstLetter(segment);
            if (letter >= 0) {
                String escaped = segment.substring(0, letter) + "%"
                        + String.format("%02X", (int) segment.charAt(letter)) + segment.substring(letter + 1);
                variants.add(new Variant("percent-escaped letter in segment " + i, join(segments, i, escaped)));
            }
        }
        variants.add(new Variant("doubled leading slash", "/" + path));
        if (segments.length > 1) {
            variants.add(new Variant(
                    "doubled inner slash", "/" + segments[0] + "/" + path.substring(1 + segments[0].length())));
            variants.add(
                    new Variant("escaped slash", "/" + segments[0] + "%2F" + path.substring(2 + segments[0].length())));
            variants.add(new Variant(
                    "dot segments", "/" + segments[0] + "/x/.." + path.substring(1 + segments[0].length())));
            variants.add(new Variant(
                    "escaped dot segments",
                    "/" + segments[0] + "/x/%2e%2e" + path.substring(1 + segments[0].length())));
        }
        variants.add(new Variant("trailing slash", path + "/"));
        variants.add(new Variant("upper case", path.toUpperCase(Locale.ROOT)));
        variants.add(new Variant(
                "first segment capitalised", "/" + Character.toUpperCase(path.charAt(1)) + path.substring(2)));
        return variants;
    }

    private static int firstLetter(String segment) {
        for (int i = 0; i < segment.length(); i++) {
            if (Character.isLetter(segment.charAt(i))) return i;
        }
        return -1;
    }

    private static String join(String[] segments, int replaced, String replacement) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < segments.length; i++) {
            out.append('/').append(i == replaced ? replacement : segments[i]);
        }
        return out.toString();
    }

    /** True when the answer says no resource method was found for the path (the router refused, nothing ran). */
    static boolean unrouted(HttpResult r) {
        String code = code(r);
        // 404 unknown_path: no resource method matches; 400 malformed_request: the container refused the request line.
        return (r.status() == 404 && "unknown_path".equals(code))
                || (r.status() == 400 && "malformed_request".equals(code));
    }

    /**
     * A refusal in the API's error shape: the status, the code, a message, and for a 401 the challenge of
     * {@code scheme} ({@code Basic} for the admin API, {@code Bearer} for API keys).
     */
    static void assertRefused(HttpResult r, int status, String code, String scheme, String why) {
        assertEquals(status, r.status(), () -> why + ": " + r);
        assertTrue(r.contentType().startsWith("application/json"), () -> why + ": " + r);
        JsonObject error = r.json().getJsonObject("error");
        assertEquals(code, error.getString("code"), () -> why + ": " + r);
        assertFalse(error.getString("message").isBlank(), () -> why + ": " + r);
        if (status == 401) {
            assertTrue(r.headers().firstValue("WWW-Authenticate").orElse("").startsWith(scheme), () -> why + ": " + r);
        }
    }

    static String code(HttpResult r) {
        if (!r.contentType().startsWith("application/json") || r.body().isEmpty()) return null;
        JsonObject error = r.json().getJsonObject("error");
        return error == null || error.isNull("code") ? null : error.getString("code");
    }
}
