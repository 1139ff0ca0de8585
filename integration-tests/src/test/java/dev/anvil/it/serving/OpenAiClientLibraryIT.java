package dev.anvil.it.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import dev.langchain4j.model.output.FinishReason;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** LangChain4j's OpenAI client (a real third-party OpenAI client library) against Anvil, plain and streaming. */
@ExtendWith(AnvilServerExtension.class)
class OpenAiClientLibraryIT {

    @Test
    void langChain4jChatsAndStreams(AnvilServer server) throws Exception {
        String baseUrl = server.uri("/v1").toString();
        OpenAiChatModel chat = OpenAiChatModel.builder()
                .baseUrl(baseUrl)
                .apiKey("not-checked")
                .modelName(OpenAi.MODEL)
                .temperature(0.0)
                .maxTokens(16)
                .timeout(Duration.ofSeconds(60))
                .build();
        ChatResponse plain = chat.chat(ChatRequest.builder()
                .messages(UserMessage.from("Tell me a story"))
                .build());
        assertFalse(plain.aiMessage().text().isEmpty(), plain::toString);
        assertEquals(16, plain.tokenUsage().outputTokenCount(), plain::toString);
        assertTrue(plain.tokenUsage().inputTokenCount() > 0, plain::toString);
        assertEquals(FinishReason.LENGTH, plain.finishReason(), plain::toString);
        assertTrue(plain.id().startsWith("chatcmpl-"), plain::toString);

        OpenAiStreamingChatModel streaming = OpenAiStreamingChatModel.builder()
                .baseUrl(baseUrl)
                .apiKey("not-checked")
                .modelName(OpenAi.MODEL)
                .temperature(0.0)
                .maxTokens(16)
                .timeout(Duration.ofSeconds(60))
                .build();
        StringBuilder partials = new StringBuilder();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        streaming.chat("Tell me a story", new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String partialResponse) {
                partials.append(partialResponse);
            }

            @Override
            public void onCompleteResponse(ChatResponse completeResponse) {
                done.complete(completeResponse);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        ChatResponse streamed = done.get(60, TimeUnit.SECONDS);
        assertEquals(
                plain.aiMessage().text(), streamed.aiMessage().text(), "greedy: streamed answer equals the plain one");
        assertEquals(streamed.aiMessage().text(), partials.toString(), "partials add up to the answer");
        assertEquals(16, streamed.tokenUsage().outputTokenCount(), streamed::toString);
        assertEquals(FinishReason.LENGTH, streamed.finishReason(), streamed::toString);
    }
}
