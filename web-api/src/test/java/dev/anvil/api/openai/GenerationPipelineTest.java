package dev.anvil.api.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.anvil.serving.ServedModel;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class GenerationPipelineTest {

    private static final ServedModel MODEL = new ServedModel("m", "1.0.0", null, 512, null, Instant.EPOCH, "anvil");

    @Test
    void aGenerationReservesItsPromptPlusMaxTokensPerChoice() {
        assertEquals(5 + 16, GenerationPipeline.reservedTokens(MODEL, List.of(new int[5]), 1, 16));
        assertEquals(
                5 + 3 * 16,
                GenerationPipeline.reservedTokens(MODEL, List.of(new int[5]), 3, 16),
                "n choices, one prompt");
        assertEquals(
                (5 + 2 * 16) + (7 + 2 * 16),
                GenerationPipeline.reservedTokens(MODEL, List.of(new int[5], new int[7]), 2, 16));
    }

    @Test
    void withoutMaxTokensOrBeyondTheContextWhatTheContextLeavesIsReserved() {
        assertEquals(
                512,
                GenerationPipeline.reservedTokens(MODEL, List.of(new int[12]), 1, null),
                "12 + the 500 the context leaves");
        assertEquals(
                12 + 2 * 500,
                GenerationPipeline.reservedTokens(MODEL, List.of(new int[12]), 2, 1_000_000_000),
                "a max_tokens beyond the context (refused anyway) does not reserve the whole budget");
        assertEquals(
                600,
                GenerationPipeline.reservedTokens(MODEL, List.of(new int[600]), 4, 10),
                "an overlong prompt: no room left");
    }
}
