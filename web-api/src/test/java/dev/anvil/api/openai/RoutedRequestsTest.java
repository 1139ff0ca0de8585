package dev.anvil.api.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.anvil.routing.Route;
import dev.anvil.serving.chat.ChatMessage;
import jakarta.json.Json;
import java.io.StringReader;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A variant's version and parameters applied to a parsed request (what stage 3 hands to the later stages). */
class RoutedRequestsTest {

    private static ChatRequest chat(String body) {
        return ChatRequest.parse(Json.createReader(new StringReader(body)).readObject());
    }

    private static Route route(Double temperature, Double topP, Integer maxTokens, String systemPrompt) {
        return new Route(
                1,
                "exp",
                "AB",
                2,
                "candidate",
                "chat",
                "2.0.0",
                temperature,
                topP,
                maxTokens,
                systemPrompt,
                List.of(),
                true,
                0);
    }

    @Test
    void variantParametersReplaceTheCallersAndTheVersionIsPinned() {
        ChatRequest r = chat("""
                {"model":"chat","messages":[{"role":"user","content":"hi"}],"temperature":1.2,"top_p":0.5,"max_tokens":40,"seed":9}""");
        GenerationOptions routed = r.options().routedTo(route(0.0, 0.9, 7, null));
        assertEquals("chat@2.0.0", routed.model());
        assertEquals(0f, routed.sampling().temperature());
        assertEquals(0.9f, routed.sampling().topP());
        assertEquals(7, routed.maxTokens());
        assertEquals(9, routed.sampling().seed(), "the caller's seed stays");
        GenerationOptions unchanged = r.options().routedTo(route(null, null, null, null));
        assertEquals(1.2f, unchanged.sampling().temperature());
        assertEquals(0.5f, unchanged.sampling().topP());
        assertEquals(40, unchanged.maxTokens());
    }

    @Test
    void variantSystemPromptReplacesTheFirstSystemMessageOrLeads() {
        ChatRequest withSystem = chat("""
                {"model":"chat","messages":[{"role":"system","content":"Be verbose."},{"role":"user","content":"hi"}]}""");
        ChatRequest routed = withSystem.routed(withSystem.options().routedTo(route(null, null, null, "Be brief.")));
        assertEquals(List.of(new ChatMessage("system", "Be brief."), new ChatMessage("user", "hi")), routed.messages());

        ChatRequest without = chat("""
                {"model":"chat","messages":[{"role":"user","content":"hi"}]}""");
        assertEquals(
                List.of(new ChatMessage("system", "Be brief."), new ChatMessage("user", "hi")),
                without.routed(without.options().routedTo(route(null, null, null, "Be brief.")))
                        .messages());
        assertSame(
                without.messages(),
                without.routed(without.options()).messages(),
                "no route: the conversation is untouched");
    }
}
