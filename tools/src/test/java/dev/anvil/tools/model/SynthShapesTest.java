package dev.anvil.tools.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.engine.Batch;
import dev.anvil.engine.ComputePool;
import dev.anvil.engine.GgmlType;
import dev.anvil.engine.GgufFile;
import dev.anvil.engine.KvCachePool;
import dev.anvil.engine.LlamaModel;
import dev.anvil.engine.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The real-model shapes beyond llama: their tensor plans at full size (names and GGML shapes as llama.cpp's loader
 * for each architecture asks for them, storage types, parameter counts as published), and a written one-layer
 * miniature of each read back through the engine's GGUF reader (metadata keys, vocabulary at its real size and ids,
 * chat template, tensor table).
 */
class SynthShapesTest {

    @TempDir
    Path dir;

    private static Map<String, ModelSynthesizer.PlannedTensor> plan(String shape, GgmlType type) {
        Map<String, ModelSynthesizer.PlannedTensor> byName = new HashMap<>();
        for (ModelSynthesizer.PlannedTensor t : new ModelSynthesizer(ModelShape.named(shape), type, 0, null).plan()) {
            assertNull(byName.put(t.name(), t), "tensor " + t.name() + " planned twice");
        }
        return byName;
    }

    private static void assertTensor(
            Map<String, ModelSynthesizer.PlannedTensor> plan, String name, GgmlType type, long... shape) {
        ModelSynthesizer.PlannedTensor t = plan.get(name);
        assertNotNull(t, name + " is planned");
        assertArrayEquals(shape, t.shape(), name);
        assertEquals(type, t.type(), name);
    }

    private static long elements(Map<String, ModelSynthesizer.PlannedTensor> plan) {
        long n = 0;
        for (ModelSynthesizer.PlannedTensor t : plan.values()) {
            long e = 1;
            for (long d : t.shape()) e *= d;
            n += e;
        }
        return n;
    }

    @Test
    void qwen25PlanHasBiasesTiedEmbeddingsAndQ5_0WhereRowsOf896DoNotFitK() {
        Map<String, ModelSynthesizer.PlannedTensor> p = plan("qwen2.5-0.5b", GgmlType.Q4_K);
        assertEquals(2 + 24 * 12, p.size());
        assertTensor(p, "token_embd.weight", GgmlType.Q8_0, 896, 151936);
        assertFalse(p.containsKey("output.weight"), "tied");
        assertTensor(p, "blk.0.attn_q.weight", GgmlType.Q5_0, 896, 896);
        assertTensor(p, "blk.0.attn_k.weight", GgmlType.Q5_0, 896, 128);
        assertTensor(p, "blk.23.attn_v.weight", GgmlType.Q5_0, 896, 128);
        assertTensor(p, "blk.0.attn_q.bias", GgmlType.F32, 896);
        assertTensor(p, "blk.0.attn_k.bias", GgmlType.F32, 128);
        assertTensor(p, "blk.0.attn_v.bias", GgmlType.F32, 128);
        assertTensor(p, "blk.5.ffn_gate.weight", GgmlType.Q5_0, 896, 4864);
        assertTensor(p, "blk.5.ffn_down.weight", GgmlType.Q4_K, 4864, 896);
        assertTensor(p, "output_norm.weight", GgmlType.F32, 896);
        // Qwen2.5-0.5B's published size: 0.49B parameters (494,032,768, as llama.cpp counts the real file).
        assertEquals(494_032_768L, elements(p));
        assertEquals(494_032_768L, ModelShape.named("qwen2.5-0.5b").parameters());
    }

    @Test
    void qwen3PlanHasWideQueriesAndPerHeadNorms() {
        Map<String, ModelSynthesizer.PlannedTensor> p = plan("qwen3-0.6b", GgmlType.Q4_0);
        assertEquals(2 + 28 * 11, p.size());
        assertTensor(p, "blk.0.attn_q.weight", GgmlType.Q4_0, 1024, 2048);
        assertTensor(p, "blk.0.attn_k.weight", GgmlType.Q4_0, 1024, 1024);
        assertTensor(p, "blk.0.attn_output.weight", GgmlType.Q4_0, 2048, 1024);
        assertTensor(p, "blk.27.attn_q_norm.weight", GgmlType.F32, 128);
        assertTensor(p, "blk.27.attn_k_norm.weight", GgmlType.F32, 128);
        assertTensor(p, "blk.0.ffn_up.weight", GgmlType.Q4_0, 1024, 3072);
        assertFalse(p.containsKey("blk.0.attn_q.bias"));
        assertTensor(p, "token_embd.weight", GgmlType.Q8_0, 1024, 151936);
        ModelShape s = ModelShape.named("qwen3-0.6b");
        assertEquals(s.parameters(), elements(p));
        // The model card: 0.6B parameters, 0.44B of them outside the embedding.
        assertEquals(44, Math.round((s.parameters() - 151936L * 1024) / 1e7));
    }

    @Test
    void gemma2PlanHasPostNormsAndHeadsOf256() {
        Map<String, ModelSynthesizer.PlannedTensor> p = plan("gemma-2-2b", GgmlType.Q4_K);
        assertEquals(2 + 26 * 11, p.size());
        assertTensor(p, "token_embd.weight", GgmlType.Q8_0, 2304, 256000);
        assertFalse(p.containsKey("output.weight"), "tied");
        assertTensor(p, "blk.0.attn_q.weight", GgmlType.Q4_K, 2304, 2048);
        assertTensor(p, "blk.0.attn_k.weight", GgmlType.Q4_K, 2304, 1024);
        assertTensor(p, "blk.0.attn_output.weight", GgmlType.Q4_K, 2048, 2304);
        assertTensor(p, "blk.25.post_attention_norm.weight", GgmlType.F32, 2304);
        assertTensor(p, "blk.25.ffn_norm.weight", GgmlType.F32, 2304);
        assertTensor(p, "blk.25.post_ffw_norm.weight", GgmlType.F32, 2304);
        assertTensor(p, "blk.3.ffn_down.weight", GgmlType.Q4_K, 9216, 2304);
        // Published: 2.61B parameters.
        assertEquals(261, Math.round(elements(p) / 1e7));
    }

    @Test
    void phi3PlanHasFusedProjectionsAndAnUntiedClassifier() {
        Map<String, ModelSynthesizer.PlannedTensor> p = plan("phi-3-mini", GgmlType.Q4_0);
        assertEquals(3 + 32 * 6, p.size());
        assertTensor(p, "token_embd.weight", GgmlType.Q4_0, 3072, 32064);
        assertTensor(p, "output.weight", GgmlType.Q8_0, 3072, 32064);
        assertTensor(p, "blk.0.attn_qkv.weight", GgmlType.Q4_0, 3072, 3 * 3072);
        assertTensor(p, "blk.0.attn_output.weight", GgmlType.Q4_0, 3072, 3072);
        assertTensor(p, "blk.31.ffn_up.weight", GgmlType.Q4_0, 3072, 2 * 8192);
        assertTensor(p, "blk.31.ffn_down.weight", GgmlType.Q4_0, 8192, 3072);
        assertFalse(p.containsKey("blk.0.attn_q.weight"));
        assertFalse(p.containsKey("blk.0.ffn_gate.weight"));
        ModelShape s = ModelShape.named("phi-3-mini");
        assertEquals(s.parameters(), elements(p));
        // Published: 3.8B parameters (3,821,079,552).
        assertEquals(3_821_079_552L, s.parameters());
    }

    @Test
    void llama32PlanMatchesTheReal1B() {
        Map<String, ModelSynthesizer.PlannedTensor> p = plan("llama-3.2-1b", GgmlType.F16);
        assertEquals(2 + 16 * 9, p.size());
        assertTensor(p, "token_embd.weight", GgmlType.F16, 2048, 128256);
        assertTensor(p, "blk.0.attn_k.weight", GgmlType.F16, 2048, 512);
        assertTensor(p, "blk.15.ffn_down.weight", GgmlType.F16, 8192, 2048);
        assertFalse(p.containsKey("output.weight"), "tied");
        // Llama-3.2-1B: 1,235,814,400 parameters.
        assertEquals(1_235_814_400L, elements(p));
    }

    private Path writeMiniature(String shape, GgmlType type) throws Exception {
        Path out = dir.resolve(shape + ".gguf");
        new ModelSynthesizer(ModelShape.named(shape).miniature(), type, 3, null).write(out);
        return out;
    }

    /** The tensor table of the file is the plan: same names in the same order, shapes and types. */
    private static void assertTableIsThePlan(GgufFile f, ModelShape mini, GgmlType type) {
        List<ModelSynthesizer.PlannedTensor> plan = new ModelSynthesizer(mini, type, 0, null).plan();
        assertEquals(plan.size(), f.tensors().size());
        List<String> names = List.copyOf(f.tensors().keySet());
        for (int i = 0; i < plan.size(); i++) {
            ModelSynthesizer.PlannedTensor t = plan.get(i);
            assertEquals(t.name(), names.get(i));
            assertArrayEquals(t.shape(), f.tensor(t.name()).shape(), t.name());
            assertEquals(t.type(), f.tensor(t.name()).type(), t.name());
        }
    }

    @Test
    void qwenFilesCarryTheRealVocabularyIdsAndTheirChatTemplates() throws Exception {
        for (String name : List.of("qwen2.5-0.5b", "qwen3-0.6b")) {
            ModelShape mini = ModelShape.named(name).miniature();
            try (GgufFile f = GgufFile.open(writeMiniature(name, GgmlType.Q8_0))) {
                String arch = name.startsWith("qwen3") ? "qwen3" : "qwen2";
                assertEquals(arch, f.getString("general.architecture"));
                assertEquals(1e6f, f.getFloat(arch + ".rope.freq_base", 0), name);
                assertEquals(1e-6f, f.getFloat(arch + ".attention.layer_norm_rms_epsilon", 0), name);
                assertEquals(arch.equals("qwen3"), f.has(arch + ".attention.key_length"), name);
                if (arch.equals("qwen3")) assertEquals(64, f.getInt("qwen3.attention.key_length"));
                assertEquals("gpt2", f.getString("tokenizer.ggml.model"));
                assertEquals("qwen2", f.getString("tokenizer.ggml.pre"));
                String[] tokens = f.getStringArray("tokenizer.ggml.tokens");
                int[] types = f.getIntArray("tokenizer.ggml.token_type");
                assertEquals(151936, tokens.length);
                assertEquals("<|endoftext|>", tokens[151643]);
                assertEquals("<|im_start|>", tokens[151644]);
                assertEquals("<|im_end|>", tokens[151645]);
                assertEquals("<|file_sep|>", tokens[151664]);
                assertEquals(SyntheticVocabulary.TYPE_CONTROL, types[151644]);
                assertEquals(SyntheticVocabulary.TYPE_USER_DEFINED, types[151657], tokens[151657]);
                int firstPad = arch.equals("qwen3") ? 151669 : 151665;
                if (arch.equals("qwen3")) assertEquals("</think>", tokens[151668]);
                assertEquals("[PAD" + firstPad + "]", tokens[firstPad]);
                assertEquals(SyntheticVocabulary.TYPE_UNUSED, types[151935]);
                assertEquals(151643 - 256, f.getStringArray("tokenizer.ggml.merges").length);
                assertEquals(151643, f.getInt("tokenizer.ggml.bos_token_id"));
                assertEquals(151645, f.getInt("tokenizer.ggml.eos_token_id"));
                assertFalse(f.getBoolean("tokenizer.ggml.add_bos_token", true));
                String template = f.getString("tokenizer.chat_template");
                assertEquals(mini.chatTemplate(), template);
                assertTrue(template.contains("<|im_start|>assistant"), name);
                assertEquals(arch.equals("qwen3"), template.contains("<think>"), name);
                assertTableIsThePlan(f, mini, GgmlType.Q8_0);

                Tokenizer tok = Tokenizer.fromGguf(f);
                String text = "The stranger walked into the town.";
                assertEquals(text, tok.decode(tok.encode(text, false)));
                assertEquals("<|im_end|>", tok.tokenText(tok.eos()));
            }
        }
    }

    @Test
    void gemma2FileCarriesSoftCapsSlidingWindowAndASentencePieceVocabulary() throws Exception {
        ModelShape mini = ModelShape.named("gemma-2-2b").miniature();
        try (GgufFile f = GgufFile.open(writeMiniature("gemma-2-2b", GgmlType.F16))) {
            assertEquals("gemma2", f.getString("general.architecture"));
            assertEquals(50f, f.getFloat("gemma2.attn_logit_softcapping", 0));
            assertEquals(30f, f.getFloat("gemma2.final_logit_softcapping", 0));
            assertEquals(4096, f.getInt("gemma2.attention.sliding_window"));
            assertEquals(64, f.getInt("gemma2.attention.key_length"));
            assertEquals(64, f.getInt("gemma2.attention.value_length"));
            assertEquals(8192, f.getInt("gemma2.context_length"));
            assertEquals("llama", f.getString("tokenizer.ggml.model"));
            String[] tokens = f.getStringArray("tokenizer.ggml.tokens");
            int[] types = f.getIntArray("tokenizer.ggml.token_type");
            float[] scores = f.getFloatArray("tokenizer.ggml.scores");
            assertEquals(256000, tokens.length);
            assertEquals(256000, scores.length);
            assertEquals("<pad>", tokens[0]);
            assertEquals("<eos>", tokens[1]);
            assertEquals("<bos>", tokens[2]);
            assertEquals("<start_of_turn>", tokens[106]);
            assertEquals("<end_of_turn>", tokens[107]);
            assertEquals("<0x0A>", tokens[108 + 10]);
            assertEquals(SyntheticVocabulary.TYPE_BYTE, types[108 + 10]);
            assertEquals(2, f.getInt("tokenizer.ggml.bos_token_id"));
            assertEquals(1, f.getInt("tokenizer.ggml.eos_token_id"));
            assertEquals(3, f.getInt("tokenizer.ggml.unknown_token_id"));
            assertEquals(0, f.getInt("tokenizer.ggml.padding_token_id"));
            assertTrue(f.getBoolean("tokenizer.ggml.add_bos_token", false));
            assertFalse(f.getBoolean("tokenizer.ggml.add_space_prefix", true));
            assertFalse(f.has("tokenizer.ggml.merges"));
            assertEquals(mini.chatTemplate(), f.getString("tokenizer.chat_template"));
            assertTrue(f.getString("tokenizer.chat_template").contains("<start_of_turn>"));
            assertTableIsThePlan(f, mini, GgmlType.F16);
        }
    }

    @Test
    void phi3FileHasTheLlama2LayoutTheAddedTokensAndPadding() throws Exception {
        ModelShape mini = ModelShape.named("phi-3-mini").miniature();
        try (GgufFile f = GgufFile.open(writeMiniature("phi-3-mini", GgmlType.Q8_0))) {
            assertEquals("phi3", f.getString("general.architecture"));
            assertEquals(4096, f.getInt("phi3.rope.scaling.original_context_length"));
            assertEquals(2047, f.getInt("phi3.attention.sliding_window"));
            assertFalse(f.has("phi3.attention.key_length"));
            String[] tokens = f.getStringArray("tokenizer.ggml.tokens");
            int[] types = f.getIntArray("tokenizer.ggml.token_type");
            float[] scores = f.getFloatArray("tokenizer.ggml.scores");
            assertEquals(32064, tokens.length);
            assertEquals("<unk>", tokens[0]);
            assertEquals("<s>", tokens[1]);
            assertEquals("</s>", tokens[2]);
            assertEquals("<0x00>", tokens[3]);
            assertEquals("<0xFF>", tokens[258]);
            assertEquals(String.valueOf(SyntheticVocabulary.SPM_SPACE), tokens[259]);
            assertEquals("<|endoftext|>", tokens[32000]);
            assertEquals("<|assistant|>", tokens[32001]);
            assertEquals("<|end|>", tokens[32007]);
            assertEquals("<|user|>", tokens[32010]);
            assertEquals("[PAD32011]", tokens[32011]);
            assertEquals(SyntheticVocabulary.TYPE_UNUSED, types[32063]);
            assertEquals(SyntheticVocabulary.TYPE_UNKNOWN, types[0]);
            Set<String> unique = new HashSet<>(List.of(tokens));
            assertEquals(tokens.length, unique.size(), "token texts are unique");
            for (int i = 260; i < 32000; i++) {
                assertEquals(SyntheticVocabulary.TYPE_NORMAL, types[i]);
                assertTrue(scores[i] < scores[i - 1], "piece scores fall: " + i);
            }
            assertEquals(1, f.getInt("tokenizer.ggml.bos_token_id"));
            assertEquals(32000, f.getInt("tokenizer.ggml.eos_token_id"));
            assertTrue(f.getString("tokenizer.chat_template").contains("<|assistant|>"));
            assertTableIsThePlan(f, mini, GgmlType.Q8_0);

            Tokenizer tok = Tokenizer.fromGguf(f);
            String text = "The stranger walked into the town.";
            int[] ids = tok.encode(text, false);
            assertTrue(ids.length < text.length() / 2, "pieces shorten the text: " + ids.length + " tokens");
            assertEquals(text, tok.decode(ids));
        }
    }

    /**
     * Each family's miniature runs in Anvil's engine as its own architecture: its turn markers, written in a prompt,
     * are single special tokens, its end-of-turn token ends generation, and a greedy decode from a chat-shaped prompt
     * produces tokens.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "qwen2.5-0.5b, qwen2, <|im_start|>, <|im_end|>",
        "qwen3-0.6b, qwen3, <|im_start|>, <|im_end|>",
        "gemma-2-2b, gemma2, <start_of_turn>, <end_of_turn>",
        "phi-3-mini, phi3, <|user|>, <|end|>",
        "llama-3.2-1b, llama, <|start_header_id|>, <|eot_id|>"
    })
    void miniaturesRunInTheEngineWithTheirTurnTokens(String shape, String architecture, String open, String close)
            throws Exception {
        Path file = writeMiniature(shape, GgmlType.Q8_0);
        try (LlamaModel model = LlamaModel.load(file, ComputePool.defaultFactory(), 1)) {
            assertEquals(architecture, model.config().architecture());
            Tokenizer tokenizer = model.tokenizer();
            int[] opened = tokenizer.encodeWithSpecials(open, false);
            int[] closed = tokenizer.encodeWithSpecials(close, false);
            assertEquals(1, opened.length, open + " is one token");
            assertEquals(1, closed.length, close + " is one token");
            assertEquals(open, tokenizer.tokenText(opened[0]));
            assertTrue(tokenizer.isEndOfGeneration(closed[0]), close + " ends generation");
            assertFalse(tokenizer.isEndOfGeneration(opened[0]), open + " does not");
            assertTrue(tokenizer.encode(open, false).length > 1, "as plain text " + open + " is not the special token");

            int[] prompt = tokenizer.encodeWithSpecials(open + "user\nHello" + close + "\n" + open, true);
            KvCachePool kv = model.newKvCachePool(64L << 20);
            KvCachePool.Sequence seq = kv.newSequence();
            kv.reserve(seq, prompt.length + 1);
            float[] logits = model.forward(new Batch().add(seq, 0, prompt)).logits(0);
            assertEquals(tokenizer.vocabSize(), logits.length);
            for (float l : logits) assertTrue(Float.isFinite(l), "finite logits");
            kv.free(seq);
        }
    }

    @Test
    void miniatureFilesAreDeterministicPerSeed() throws Exception {
        ModelShape mini = ModelShape.named("qwen3-0.6b").miniature();
        Path a = dir.resolve("a.gguf"), b = dir.resolve("b.gguf"), c = dir.resolve("c.gguf");
        new ModelSynthesizer(mini, GgmlType.Q4_0, 5, null).write(a);
        new ModelSynthesizer(mini, GgmlType.Q4_0, 5, null).write(b);
        new ModelSynthesizer(mini, GgmlType.Q4_0, 6, null).write(c);
        assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b));
        assertFalse(java.util.Arrays.equals(Files.readAllBytes(a), Files.readAllBytes(c)));
    }
}
