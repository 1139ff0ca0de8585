package dev.anvil.tools.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.engine.Batch;
import dev.anvil.engine.ComputePool;
import dev.anvil.engine.GgmlType;
import dev.anvil.engine.GgufFile;
import dev.anvil.engine.KvCachePool;
import dev.anvil.engine.LlamaModel;
import dev.anvil.engine.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SynthTest {

    @TempDir
    Path dir;

    private static String sha256(Path p) throws IOException, NoSuchAlgorithmException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
    }

    private Path synth(String name, GgmlType type, long seed) throws IOException {
        Path out = dir.resolve(name);
        new ModelSynthesizer(ModelShape.named("tiny"), type, seed, null).write(out);
        return out;
    }

    @Test
    void sameSeedGivesTheSameBytesAndAnotherSeedDoesNot() throws Exception {
        String a = sha256(synth("a.gguf", GgmlType.Q8_0, 7));
        String b = sha256(synth("b.gguf", GgmlType.Q8_0, 7));
        String c = sha256(synth("c.gguf", GgmlType.Q8_0, 8));
        assertEquals(a, b);
        assertNotEquals(a, c);
    }

    @Test
    void attenuationScalesOnlyTheOutputProjectionsOfTheLaterLayers() throws Exception {
        Path plain = synth("plain.gguf", GgmlType.F32, 3);
        Path quiet = dir.resolve("quiet.gguf");
        new ModelSynthesizer(ModelShape.named("tiny"), GgmlType.F32, 3, null)
                .attenuate(1, 0.1f)
                .write(quiet);
        try (GgufFile a = GgufFile.open(plain);
                GgufFile b = GgufFile.open(quiet)) {
            for (String name : a.tensors().keySet()) {
                float[] x = a.tensor(name).data().toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT);
                float[] y = b.tensor(name).data().toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT);
                boolean scaled = !name.startsWith("blk.0.")
                        && (name.endsWith(".attn_output.weight") || name.endsWith(".ffn_down.weight"));
                if (!scaled) {
                    assertArrayEquals(x, y, name + " is not attenuated");
                    continue;
                }
                for (int i = 0; i < x.length; i++)
                    assertEquals(x[i] * 0.1f, y[i], Math.abs(x[i]) * 1e-5f + 1e-12f, name + "[" + i + "]");
            }
        }
    }

    @Test
    void tinyModelHasTheDeclaredShapeTypesAndAWorkingTokenizer() throws Exception {
        Path file = synth("t.gguf", GgmlType.Q4_K, 1);
        ModelShape s = ModelShape.named("tiny");
        try (GgufFile f = GgufFile.open(file)) {
            assertEquals("llama", f.getString("general.architecture"));
            assertEquals(s.dim(), f.getInt("llama.embedding_length"));
            assertEquals(s.layers(), f.getInt("llama.block_count"));
            assertEquals(s.kvHeads(), f.getInt("llama.attention.head_count_kv"));
            assertEquals(s.vocab(), f.getStringArray("tokenizer.ggml.tokens").length);
            assertEquals(2 + 9 * s.layers(), f.tensors().size(), "tied embeddings: no output.weight");
            assertFalse(f.tensors().containsKey("output.weight"));
            assertEquals(GgmlType.Q8_0, f.tensor("token_embd.weight").type());
            assertEquals(GgmlType.Q4_K, f.tensor("blk.0.attn_q.weight").type());
            assertEquals(GgmlType.Q4_K, f.tensor("blk.1.ffn_down.weight").type());
            assertEquals(GgmlType.F32, f.tensor("blk.1.ffn_norm.weight").type());
            assertArrayEquals(
                    new long[] {s.dim(), s.kvDim()},
                    f.tensor("blk.0.attn_k.weight").shape());
            assertArrayEquals(
                    new long[] {s.ffn(), s.dim()},
                    f.tensor("blk.0.ffn_down.weight").shape());

            Tokenizer tok = Tokenizer.fromGguf(f);
            String text = "The stranger walked into the town, and 42 children smiled.";
            int[] ids = tok.encode(text, false);
            assertTrue(ids.length < text.length() / 2, "merges shorten the text: " + ids.length + " tokens");
            assertEquals(text, tok.decode(ids));
            assertTrue(tok.isEndOfGeneration(tok.eos()));
            assertEquals("<|im_end|>", tok.tokenText(tok.eos()));
        }

        try (LlamaModel model = LlamaModel.load(file, ComputePool.defaultFactory(), 1)) {
            KvCachePool kv = model.newKvCachePool(1 << 20);
            KvCachePool.Sequence seq = kv.newSequence();
            kv.reserve(seq, 4);
            float[] logits =
                    model.forward(new Batch().add(seq, 0, 5, 300, 700, 1000)).logits(0);
            assertEquals(s.vocab(), logits.length);
            double sumSq = 0;
            for (float l : logits) {
                assertTrue(Float.isFinite(l));
                sumSq += l * l;
            }
            double rms = Math.sqrt(sumSq / logits.length);
            // normal(0, 0.02) weights against a unit-RMS hidden state of width 256: logits of order 0.02*16.
            assertTrue(rms > 0.05 && rms < 5, "logit RMS " + rms);
        }
    }

    @Test
    void kQuantFallsBackToQ5_0WhereRowsAreNotMultiplesOf256() {
        ModelSynthesizer smol = new ModelSynthesizer(ModelShape.named("smollm2-135m"), GgmlType.Q4_K, 0, null);
        assertEquals(GgmlType.Q5_0, smol.typeFor("blk.0.attn_q.weight", 576));
        assertEquals(GgmlType.Q4_K, smol.typeFor("blk.0.ffn_down.weight", 1536));
        assertEquals(GgmlType.Q8_0, smol.typeFor("token_embd.weight", 576));
        ModelSynthesizer q40 = new ModelSynthesizer(ModelShape.named("smollm2-135m"), GgmlType.Q4_0, 0, null);
        assertEquals(GgmlType.Q4_0, q40.typeFor("blk.3.ffn_up.weight", 576));
        assertEquals(GgmlType.Q8_0, q40.typeFor("token_embd.weight", 576));
    }

    @Test
    void realSizeVocabulariesAreValidBpeTables() {
        for (String name : List.of("smollm2-135m", "llama-3.2-1b")) {
            ModelShape s = ModelShape.named(name);
            SyntheticVocabulary v = SyntheticVocabulary.build(s.vocab(), s.specials(), s.specialsFirst());
            String[] tokens = v.tokens();
            assertEquals(s.vocab(), tokens.length, name);
            Set<String> all = new HashSet<>(List.of(tokens));
            assertEquals(tokens.length, all.size(), name + ": token texts are unique");
            String[] merges = v.merges();
            assertEquals(s.vocab() - s.specials().size() - 256, merges.length, name);
            Set<String> before = new HashSet<>();
            int regularStart = s.specialsFirst() ? s.specials().size() : 0;
            for (int i = 0; i < 256; i++) before.add(tokens[regularStart + i]);
            for (int m = 0; m < merges.length; m++) {
                String[] parts = merges[m].split(" ");
                assertEquals(2, parts.length, merges[m]);
                assertTrue(
                        before.contains(parts[0]) && before.contains(parts[1]),
                        name + " merge " + m + " uses tokens made before it: " + merges[m]);
                String made = tokens[regularStart + 256 + m];
                assertEquals(parts[0] + parts[1], made, name + " merge " + m + " makes the next token");
                before.add(made);
            }
            assertEquals(
                    s.specials().getFirst(),
                    tokens[s.specialsFirst() ? 0 : s.vocab() - s.specials().size()]);
        }
    }
}
