package dev.anvil.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Load-time validation: unsupported architectures and weight types fail with a message naming them. */
class ModelLoadingTest {

    @TempDir
    Path dir;

    /** A 1-layer llama GGUF (dim 32, 2 heads, 1 kv head, ffn 64, vocab 16), without tokenizer. */
    Path write(String name, String arch, GgmlType attnQType, boolean withOutput) throws IOException {
        return write(name, arch, attnQType, withOutput, w -> {}, null);
    }

    /** As above, with extra metadata and, unless null, a {@code rope_freqs.weight} tensor of the given factors. */
    Path write(
            String name,
            String arch,
            GgmlType attnQType,
            boolean withOutput,
            java.util.function.Consumer<GgufWriter> metadata,
            float[] ropeFreqs)
            throws IOException {
        Path p = dir.resolve(name);
        Random r = new Random(5);
        int dim = 32, ffn = 64, vocab = 16, kv = 16;
        try (GgufWriter w = new GgufWriter(p)) {
            w.putString("general.architecture", arch);
            w.putUInt32(arch + ".embedding_length", dim);
            w.putUInt32(arch + ".feed_forward_length", ffn);
            w.putUInt32(arch + ".block_count", 1);
            w.putUInt32(arch + ".attention.head_count", 2);
            w.putUInt32(arch + ".attention.head_count_kv", 1);
            w.putUInt32(arch + ".context_length", 64);
            w.putFloat32(arch + ".attention.layer_norm_rms_epsilon", 1e-5f);
            metadata.accept(w);
            Object[][] tensors = {
                {"token_embd.weight", GgmlType.F32, new long[] {dim, vocab}},
                {"blk.0.attn_norm.weight", GgmlType.F32, new long[] {dim}},
                {
                    "blk.0.attn_q.weight",
                    attnQType,
                    new long[] {attnQType.blockSize > dim ? attnQType.blockSize : dim, dim}
                },
                {"blk.0.attn_k.weight", GgmlType.F32, new long[] {dim, kv}},
                {"blk.0.attn_v.weight", GgmlType.F32, new long[] {dim, kv}},
                {"blk.0.attn_output.weight", GgmlType.F32, new long[] {dim, dim}},
                {"blk.0.ffn_norm.weight", GgmlType.F32, new long[] {dim}},
                {"blk.0.ffn_gate.weight", GgmlType.F32, new long[] {dim, ffn}},
                {"blk.0.ffn_down.weight", GgmlType.F32, new long[] {ffn, dim}},
                {"blk.0.ffn_up.weight", GgmlType.F32, new long[] {dim, ffn}},
                {"output_norm.weight", GgmlType.F32, new long[] {dim}},
                {"output.weight", GgmlType.F32, new long[] {dim, vocab}},
            };
            int n = withOutput ? tensors.length : tensors.length - 1;
            for (int i = 0; i < n; i++)
                w.addTensor((String) tensors[i][0], (GgmlType) tensors[i][1], (long[]) tensors[i][2]);
            if (ropeFreqs != null) w.addTensor("rope_freqs.weight", GgmlType.F32, new long[] {ropeFreqs.length});
            for (int i = 0; i < n; i++) {
                String tname = (String) tensors[i][0];
                w.beginTensor(tname);
                long bytes = w.tensorBytes(tname);
                if (tensors[i][1] == GgmlType.F32) {
                    float[] v = new float[(int) (bytes / 4)];
                    for (int j = 0; j < v.length; j++) v[j] = (float) (r.nextGaussian() * 0.3);
                    w.writeValues(v, 0, v.length);
                } else {
                    w.write(new byte[(int) bytes], 0, (int) bytes); // content irrelevant: loading must refuse it
                }
            }
            if (ropeFreqs != null) {
                w.beginTensor("rope_freqs.weight");
                w.writeValues(ropeFreqs, 0, ropeFreqs.length);
            }
        }
        return p;
    }

    /**
     * A GGUF load reads every tensor's bytes and says so: from 0 of the total to the total, never backwards, one step
     * per tensor of this small file, the total being the file's tensor data (what a loading progress bar shows).
     */
    @Test
    void loadReportsTheWeightBytesItReads() throws Exception {
        Path p = write("progress.gguf", "llama", GgmlType.F32, true);
        long expected;
        int tensors;
        try (GgufFile f = GgufFile.open(p)) {
            expected = f.tensors().values().stream()
                    .mapToLong(t -> t.data().byteSize())
                    .sum();
            tensors = f.tensors().size();
        }
        java.util.List<long[]> reports = new java.util.ArrayList<>();
        try (LlamaModel m = LlamaModel.load(
                p, ComputePool.defaultFactory(), 1, (read, total) -> reports.add(new long[] {read, total}))) {
            assertEquals(16, m.config().vocabSize());
        }
        assertEquals(tensors + 1, reports.size(), "a first report of 0, then one per tensor");
        assertArrayEquals(new long[] {0, expected}, reports.get(0));
        assertArrayEquals(new long[] {expected, expected}, reports.get(reports.size() - 1));
        for (int i = 1; i < reports.size(); i++) {
            assertTrue(reports.get(i)[0] > reports.get(i - 1)[0], "progress only moves forward");
            assertEquals(expected, reports.get(i)[1]);
        }
    }

    /** Last-position logits of a fixed prompt. */
    private static float[] logits(Path model) throws IOException, KvCacheFullException {
        try (LlamaModel m = LlamaModel.load(model, ComputePool.defaultFactory(), 1)) {
            KvCachePool kv = m.newKvCachePool(1L << 20);
            KvCachePool.Sequence seq = kv.newSequence();
            int[] prompt = {1, 5, 3, 7, 2, 9, 4, 11};
            kv.reserve(seq, prompt.length);
            return m.forward(new Batch().add(seq, 0, prompt)).logits(0).clone();
        }
    }

    /**
     * Linear RoPE scaling ({@code rope.scaling.factor} 2) and per-pair frequency factors ({@code rope_freqs}, all 2)
     * both halve every angle: bit-identical logits (the halving is exact either way), different from no scaling.
     * Scaling types that need more than that are refused by name.
     */
    @Test
    void ropeScalingLinearAndFrequencyFactors() throws Exception {
        float[] plain = logits(write("plain.gguf", "llama", GgmlType.F32, true));
        float[] linear = logits(write(
                "linear.gguf",
                "llama",
                GgmlType.F32,
                true,
                w -> {
                    w.putString("llama.rope.scaling.type", "linear");
                    w.putFloat32("llama.rope.scaling.factor", 2f);
                },
                null));
        float[] twos = new float[8];
        java.util.Arrays.fill(twos, 2f);
        float[] factors = logits(write("factors.gguf", "llama", GgmlType.F32, true, w -> {}, twos));
        assertArrayEquals(linear, factors);
        assertTrue(!java.util.Arrays.equals(plain, linear), "scaling must change the rotations");
        Path yarn = write(
                "yarn.gguf",
                "llama",
                GgmlType.F32,
                true,
                w -> {
                    w.putString("llama.rope.scaling.type", "yarn");
                    w.putFloat32("llama.rope.scaling.factor", 4f);
                },
                null);
        UnsupportedModelException e = assertThrows(
                UnsupportedModelException.class, () -> LlamaModel.load(yarn, ComputePool.defaultFactory(), 1));
        assertTrue(e.getMessage().contains("'yarn'"), e.getMessage());
    }

    @Test
    void unsupportedArchitectureIsNamed() throws Exception {
        Path p = write("gpt2.gguf", "gpt2", GgmlType.F32, true);
        UnsupportedModelException e = assertThrows(
                UnsupportedModelException.class, () -> LlamaModel.load(p, ComputePool.defaultFactory(), 1));
        assertTrue(e.getMessage().contains("'gpt2'"), e.getMessage());
        assertTrue(
                e.getMessage().contains("supported: llama, qwen2, qwen3, gemma2, gemma3, phi3"),
                "the refusal lists what is supported: " + e.getMessage());
    }

    /** Registration's check accepts every decoder family and reads each one's traits from its metadata. */
    @Test
    void inspectAcceptsEveryFamilyWithItsTraits() throws Exception {
        java.nio.file.Path dir = TestData.sharedDir().resolve("reference/arch");
        java.util.Map<String, ModelConfig> configs = new java.util.TreeMap<>();
        for (String name : java.util.List.of(
                "qwen2-q8_0", "qwen3-q4_k_m", "gemma2-f16", "gemma3-q8_0", "phi3-q4_k_m", "llama3-q6_k")) {
            try (GgufFile f = GgufFile.open(dir.resolve(name + ".gguf"))) {
                configs.put(name, LlamaModel.inspect(f));
            }
        }
        ModelConfig qwen3 = configs.get("qwen3-q4_k_m");
        assertEquals(128, qwen3.headSize(), "head_dim from attention.key_length");
        assertEquals(512, qwen3.qDim());
        assertEquals(256, qwen3.kvDim());
        assertTrue(qwen3.traits().qkNorm());
        assertEquals(ArchitectureTraits.RopeStyle.NEOX, qwen3.traits().rope());
        assertTrue(configs.get("qwen2-q8_0").traits().qkvBias());
        ArchitectureTraits gemma2 = configs.get("gemma2-f16").traits();
        assertEquals(50f, gemma2.attnLogitSoftcap());
        assertEquals(30f, gemma2.finalLogitSoftcap());
        assertEquals(16f, gemma2.embeddingScale());
        assertEquals(ArchitectureTraits.Activation.GELU_TANH, gemma2.activation());
        assertArrayEquals(new int[] {16, 0, 16, 0}, gemma2.layerWindow(), "Gemma 2: layers 0 and 2 local");
        ModelConfig gemma3 = configs.get("gemma3-q8_0");
        assertArrayEquals(new int[] {16, 0, 16, 0}, gemma3.layerWindows(), "sliding_window_pattern 2");
        assertEquals(10000f, gemma3.ropeTheta(0), "local layers: rope.freq_base_swa");
        assertEquals(1e6f, gemma3.ropeTheta(1));
        assertEquals(0f, gemma3.traits().finalLogitSoftcap());
        assertEquals(0, gemma3.slidingWindow(3));
        KvCachePool pool = new KvCachePool(gemma3, 1L << 20);
        assertEquals(16, pool.window(0), "a model's default pool has its sliding windows");
        assertEquals(0, pool.window(1));
        assertThrows(
                IllegalArgumentException.class,
                () -> new KvCachePool(gemma3, new int[4], 1L << 20),
                "a pool cannot widen a sliding layer to full attention");
        assertArrayEquals(
                new float[] {1f, 0.125f, 1f, 0.125f},
                gemma3.traits().withRopeScale(0.125f, true).layerRopeScale(),
                "Gemma 3's linear RoPE scaling applies to its global layers only, as in llama.cpp");
        ArchitectureTraits phi3 = configs.get("phi3-q4_k_m").traits();
        assertTrue(phi3.fusedQkv() && phi3.fusedGateUp());
        assertEquals((float) (1 / Math.sqrt(32)), phi3.queryScale(), 1e-7f);
        ModelConfig llama3 = configs.get("llama3-q6_k");
        assertEquals(ArchitectureTraits.RopeStyle.NORM, llama3.traits().rope());
        assertEquals(500000f, llama3.ropeTheta());
    }

    @Test
    void unsupportedWeightTypeIsNamedWithItsTensor() throws Exception {
        Path p = write("q2k.gguf", "llama", GgmlType.Q2_K, true);
        UnsupportedModelException e = assertThrows(
                UnsupportedModelException.class, () -> LlamaModel.load(p, ComputePool.defaultFactory(), 1));
        assertTrue(e.getMessage().contains("Q2_K") && e.getMessage().contains("blk.0.attn_q.weight"), e.getMessage());
    }

    @Test
    void missingOutputWeightMeansTiedEmbeddings() throws Exception {
        Path p = write("tied.gguf", "llama", GgmlType.F32, false);
        try (LlamaModel m = LlamaModel.load(p, ComputePool.defaultFactory(), 2)) {
            assertTrue(m.config().tiedEmbeddings());
            assertEquals(16, m.config().vocabSize());
            assertEquals(10000f, m.config().ropeTheta());
            assertEquals(16, m.config().ropeDim(), "defaults to the head size");
            KvCachePool kv = m.newKvCachePool(1 << 20);
            KvCachePool.Sequence s = kv.newSequence();
            kv.reserve(s, 3);
            float[] logits = m.forward(new Batch().add(s, 0, 1, 2, 3)).logits(0);
            assertEquals(16, logits.length);
            for (float v : logits) assertTrue(Float.isFinite(v));
            assertThrows(UnsupportedModelException.class, m::tokenizer, "no tokenizer in this file");
        }
    }

    @Test
    void garbageIsRejectedAsNeitherFormat() throws Exception {
        Path p = dir.resolve("junk.bin");
        Files.write(p, new byte[] {1, 2, 3});
        assertThrows(UnsupportedModelException.class, () -> LlamaModel.load(p, ComputePool.defaultFactory(), 1));
        byte[] header = new byte[28];
        java.nio.ByteBuffer.wrap(header)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .putInt(64)
                .putInt(172)
                .putInt(5)
                .putInt(8)
                .putInt(4)
                .putInt(512)
                .putInt(512);
        Files.write(p, header);
        UnsupportedModelException e = assertThrows(
                UnsupportedModelException.class, () -> LlamaModel.load(p, ComputePool.defaultFactory(), 1));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }
}
