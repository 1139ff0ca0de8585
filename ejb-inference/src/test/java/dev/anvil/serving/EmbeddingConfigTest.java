package dev.anvil.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class EmbeddingConfigTest {

    @Test
    void defaultsAndBounds() {
        EmbeddingConfig c = new EmbeddingConfig();
        assertEquals(256, c.maxInputs());
        assertEquals(8192, c.queueConfig().maxBatchTokens());
        assertEquals(64, c.queueConfig().maxQueue());
        c.maxInputs = 0;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, c::maxInputs);
        assertTrue(e.getMessage().contains(EmbeddingConfig.MAX_INPUTS), e.getMessage());
        c.maxBatchTokens = 0;
        assertThrows(IllegalArgumentException.class, c::queueConfig);
    }

    @Test
    void theMatryoshkaListIsReadByExactName() {
        EmbeddingConfig c = new EmbeddingConfig();
        assertFalse(c.truncatable("bge"));
        c.matryoshkaModels = Optional.of(List.of("nomic", " bge "));
        assertTrue(c.truncatable("bge"));
        assertTrue(c.truncatable("nomic"));
        assertFalse(c.truncatable("bge-small"));
    }
}
