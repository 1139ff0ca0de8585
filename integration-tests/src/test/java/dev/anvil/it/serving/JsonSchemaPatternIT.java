package dev.anvil.it.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.HttpResult;
import jakarta.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A client's JSON Schema {@code pattern} runs on the model's output. guardmsg@1.0.0 always answers with its fallback
 * message {@code {"status":"busy","contact":"support@anvil.example"}} (AnvilServer), which is adversarial for
 * {@code ^(.*.*){1,64}!$}: on the JDK's backtracking engine that match does not end (the request would hold its thread
 * until the client gives up); on the linear-time engine it is decided at once and the output is withheld.
 */
@ExtendWith(AnvilServerExtension.class)
class JsonSchemaPatternIT {

    private static HttpResult withSchema(AnvilServer server, String schema) {
        GuardedModels.register(server, "guardmsg", "1.0.0");
        return server.request(
                "POST",
                "/v1/chat/completions",
                "{\"model\":\"guardmsg@1.0.0\",\"max_tokens\":8,"
                        + "\"messages\":[{\"role\":\"user\",\"content\":\"status?\"}],"
                        + "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"status\",\"schema\":"
                        + schema + "}}}",
                OpenAi.UNCACHED_AS_ADMIN); // guardmsg@1.0.0 is registered, not promoted: pinned as an admin may
    }

    @Test
    void aCatastrophicPatternAgainstAdversarialOutputIsDecidedQuickly(AnvilServer server) {
        for (String pattern : new String[] {"^(.*.*){1,64}!$", "^((.|.)+){1,64}!$"}) {
            String schema = "{\"type\":\"object\",\"properties\":{\"contact\":{\"type\":\"string\",\"pattern\":"
                    + OpenAi.quote(pattern) + "}}}";
            long t0 = System.nanoTime();
            HttpResult r = withSchema(server, schema);
            long millis = (System.nanoTime() - t0) / 1_000_000;
            assertEquals(200, r.status(), r::toString);
            JsonObject choice = r.json().getJsonArray("choices").getJsonObject(0);
            assertEquals("content_filter", choice.getString("finish_reason"), r::toString);
            assertEquals("", choice.getJsonObject("message").getString("content"), r::toString);
            assertTrue(
                    r.headers().firstValue("X-Anvil-Guardrails").orElse("").contains("json_output=block"), r::toString);
            assertTrue(millis < 10_000, pattern + " took " + millis + " ms");
        }
        // A pattern that matches lets the output through.
        HttpResult ok = withSchema(
                server,
                "{\"type\":\"object\",\"properties\":{\"contact\":{\"type\":\"string\","
                        + "\"pattern\":\"^[a-z]+@[a-z.]+$\"}}}");
        assertEquals(200, ok.status(), ok::toString);
        assertEquals(
                "{\"status\":\"busy\",\"contact\":\"support@anvil.example\"}",
                ok.json()
                        .getJsonArray("choices")
                        .getJsonObject(0)
                        .getJsonObject("message")
                        .getString("content"),
                ok::toString);
    }

    @Test
    void aPatternTheLinearEngineCannotRunIsRefusedWhenTheRequestIsParsed(AnvilServer server) {
        HttpResult r = withSchema(server, "{\"type\":\"string\",\"pattern\":\"^(?=.*[0-9]).+$\"}");
        assertEquals(400, r.status(), r::toString);
        JsonObject error = r.json().getJsonObject("error");
        assertEquals("response_format.json_schema.schema", error.getString("param"), r::toString);
        assertTrue(
                error.getString("message").contains("'pattern'")
                        && error.getString("message").contains("RE2"),
                r::toString);
    }
}
