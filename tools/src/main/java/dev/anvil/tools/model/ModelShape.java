package dev.anvil.tools.model;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The models {@code anvil synth} can imitate: the hyper-parameters of the published checkpoints (their
 * {@code config.json}), the llama.cpp architecture whose tensor layout and metadata keys the file follows, and the
 * tokenizer's kind, size and special tokens.
 *
 * <p>Where a number comes from: the Hugging Face {@code config.json} of the checkpoint (hidden_size, layers, heads,
 * KV heads, head_dim, intermediate_size, vocab_size, max_position_embeddings, rope_theta, rms_norm_eps,
 * tie_word_embeddings) and llama.cpp's conversion script for how it lands in GGUF (checked against llama.cpp
 * d32676d, Aug 2026: src/models/*.cpp for the tensors each architecture loads, conversion/*.py for the keys).
 *
 * @param architecture   {@code general.architecture}: llama, qwen2, qwen3, gemma2 or phi3
 * @param headDim        width of one attention head; differs from dim/heads for Qwen3 and Gemma 2, which then
 *                       carry {@code <arch>.attention.key_length} / {@code value_length}
 * @param tied           whether the token embedding is also the output classifier (no {@code output.weight})
 * @param blocks         the per-layer tensors beyond llama's, see {@link Block}
 * @param archMetadata   further {@code <arch>.}-prefixed keys (Float or Integer values), e.g. Gemma 2's soft-caps
 * @param tokenizer      the vocabulary's kind, layout and special tokens
 */
public record ModelShape(
        String name,
        String architecture,
        int dim,
        int layers,
        int heads,
        int kvHeads,
        int headDim,
        int ffn,
        int vocab,
        int contextLength,
        float ropeTheta,
        float rmsEps,
        boolean tied,
        Set<Block> blocks,
        Map<String, Object> archMetadata,
        TokenizerSpec tokenizer) {

    /** Per-layer structure beyond the llama block (attn_norm, q, k, v, output, ffn_norm, gate, up, down). */
    public enum Block {
        /** F32 biases on the Q, K and V projections ({@code attn_q.bias} ...): Qwen2. */
        QKV_BIAS,
        /** RMSNorm over each head of Q and K before RoPE, weights [headDim] ({@code attn_q_norm}): Qwen3. */
        QK_NORM,
        /** RMSNorm after attention and after the FFN ({@code post_attention_norm}, {@code post_ffw_norm}): Gemma 2. */
        POST_NORMS,
        /** One {@code attn_qkv} matrix (Q rows, then K, then V) and one {@code ffn_up} of 2*ffn rows (gate, then up): Phi-3. */
        FUSED
    }

    /** A token with a fixed id and GGUF token type (see {@link SyntheticVocabulary}'s TYPE_ constants). */
    public record Special(int id, String text, int type) {}

    /**
     * @param model          {@code tokenizer.ggml.model}: "gpt2" (byte-level BPE with merges) or "llama" (SentencePiece
     *                       with scores and byte-fallback tokens)
     * @param pre            {@code tokenizer.ggml.pre}
     * @param specials       tokens at fixed ids
     * @param regular        how many regular tokens (BPE: the 256 byte tokens and the merged ones; SentencePiece: the
     *                       pieces) fill the free ids from the lowest; -1: all of them. Free ids left over hold
     *                       {@code [PADn]} tokens of type UNUSED, as llama.cpp's converter pads a vocabulary up to the
     *                       embedding's row count.
     * @param bytesAt        SentencePiece only: id of the first of the 256 {@code <0xXX>} byte tokens
     * @param addSpacePrefix {@code tokenizer.ggml.add_space_prefix}, or null to leave it out
     * @param chatTemplate   resource name under chat-templates/ of the published template, or null
     */
    public record TokenizerSpec(
            String model,
            String pre,
            List<Special> specials,
            int regular,
            int bytesAt,
            String bos,
            String eos,
            String unknown,
            String padding,
            boolean addBos,
            Boolean addSpacePrefix,
            String chatTemplate) {

        public boolean sentencePiece() {
            return model.equals("llama");
        }
    }

    public static final List<String> NAMES = List.of(
            "smollm2-135m",
            "smollm2-360m",
            "llama-3.2-1b",
            "llama-3-8b",
            "qwen2.5-0.5b",
            "qwen3-0.6b",
            "gemma-2-2b",
            "phi-3-mini",
            "tiny");

    private static final int NORMAL = SyntheticVocabulary.TYPE_NORMAL,
            UNKNOWN = SyntheticVocabulary.TYPE_UNKNOWN,
            CONTROL = SyntheticVocabulary.TYPE_CONTROL,
            USER_DEFINED = SyntheticVocabulary.TYPE_USER_DEFINED;

    private static final List<String> SMOLLM2_SPECIALS = List.of(
            "<|endoftext|>",
            "<|im_start|>",
            "<|im_end|>",
            "<repo_name>",
            "<reponame>",
            "<file_sep>",
            "<filename>",
            "<gh_stars>",
            "<issue_start>",
            "<issue_comment>",
            "<issue_closed>",
            "<jupyter_start>",
            "<jupyter_text>",
            "<jupyter_code>",
            "<jupyter_output>",
            "<jupyter_script>",
            "<empty_output>");

    /** SmolLM2's tokenizer (both sizes): GPT-2 style BPE, its specials at ids 0.., ChatML turn markers. */
    private static TokenizerSpec smollm2Tokenizer() {
        return bpe("smollm", consecutive(0, SMOLLM2_SPECIALS), "<|im_start|>", "<|im_end|>", null, false, null);
    }

    public static ModelShape named(String name) {
        return switch (name) {
            case "smollm2-135m" -> llama(name, 576, 30, 9, 3, 1536, 49152, 8192, 100000f, smollm2Tokenizer());
            case "smollm2-360m" -> llama(name, 960, 32, 15, 5, 2560, 49152, 8192, 100000f, smollm2Tokenizer());
            // Llama-3.2-1B(-Instruct): rope_scaling "llama3" (factor 32, original context 8192) is not imitated (no
            // rope_freqs.weight): it changes the rotation angles, not the work per token.
            case "llama-3.2-1b" ->
                llama(
                        name,
                        2048,
                        16,
                        32,
                        8,
                        8192,
                        128256,
                        131072,
                        500000f,
                        bpe(
                                "llama-bpe",
                                consecutive(128000, llama3Specials()),
                                "<|begin_of_text|>",
                                "<|eot_id|>",
                                null,
                                true,
                                "llama-3.1.jinja"));
            // Llama-3-8B(-Instruct): hidden 4096, 32 layers, 32 heads / 8 KV heads (head 128), FFN 14336, vocabulary
            // 128256, rope_theta 5e5: the shape of the GPU decode benchmark (bin/anvil test-gpu).
            case "llama-3-8b" ->
                llama(
                        name,
                        4096,
                        32,
                        32,
                        8,
                        14336,
                        128256,
                        8192,
                        500000f,
                        bpe(
                                "llama-bpe",
                                consecutive(128000, llama3Specials()),
                                "<|begin_of_text|>",
                                "<|eot_id|>",
                                null,
                                true,
                                "llama-3.1.jinja"));
            // Qwen2.5-0.5B(-Instruct): hidden 896, 24 layers, 14 heads / 2 KV heads (head 64), FFN 4864, vocabulary
            // 151936 embedding rows of which 151665 are tokens (the rest padding), attention biases on Q, K and V,
            // tied embeddings, rope_theta 1e6, rms_norm_eps 1e-6, max_position_embeddings 32768.
            case "qwen2.5-0.5b" ->
                new ModelShape(
                        name,
                        "qwen2",
                        896,
                        24,
                        14,
                        2,
                        64,
                        4864,
                        151936,
                        32768,
                        1e6f,
                        1e-6f,
                        true,
                        EnumSet.of(Block.QKV_BIAS),
                        Map.of(),
                        qwenTokenizer(false, "qwen2.5.jinja"));
            // Qwen3-0.6B: hidden 1024, 28 layers, 16 heads / 8 KV heads of head_dim 128 (so Q is 2048 wide), FFN 3072,
            // no attention biases but RMSNorm on each Q and K head, tied, rope_theta 1e6, rms_norm_eps 1e-6,
            // max_position_embeddings 40960.
            case "qwen3-0.6b" ->
                new ModelShape(
                        name,
                        "qwen3",
                        1024,
                        28,
                        16,
                        8,
                        128,
                        3072,
                        151936,
                        40960,
                        1e6f,
                        1e-6f,
                        true,
                        EnumSet.of(Block.QK_NORM),
                        Map.of(),
                        qwenTokenizer(true, "qwen3.jinja"));
            // gemma-2-2b(-it): hidden 2304, 26 layers, 8 heads / 4 KV heads of head_dim 256, FFN 9216 (GeGLU),
            // vocabulary 256000, tied, rope_theta 10000, rms_norm_eps 1e-6, context 8192, attention logits capped at
            // 50 and final logits at 30, sliding window 4096 on alternate layers; query_pre_attn_scalar 256 equals
            // head_dim, which is the scale llama.cpp uses for the 2B.
            case "gemma-2-2b" -> {
                Map<String, Object> extra = new LinkedHashMap<>();
                extra.put("attn_logit_softcapping", 50f);
                extra.put("final_logit_softcapping", 30f);
                extra.put("attention.sliding_window", 4096);
                yield new ModelShape(
                        name,
                        "gemma2",
                        2304,
                        26,
                        8,
                        4,
                        256,
                        9216,
                        256000,
                        8192,
                        10000f,
                        1e-6f,
                        true,
                        EnumSet.of(Block.POST_NORMS),
                        extra,
                        gemmaTokenizer());
            }
            // Phi-3-mini-4k-instruct: hidden 3072, 32 layers, 32 heads and 32 KV heads (no GQA), FFN 8192, vocabulary
            // 32064 (32000 SentencePiece tokens, 11 added, padding), untied classifier, rope_theta 10000,
            // rms_norm_eps 1e-5, max_position_embeddings 4096 = original_max_position_embeddings, sliding_window
            // 2047 (as the 4k config.json has it; llama.cpp's converter writes it as attention.sliding_window).
            case "phi-3-mini" -> {
                Map<String, Object> extra = new LinkedHashMap<>();
                extra.put("rope.scaling.original_context_length", 4096);
                extra.put("attention.sliding_window", 2047);
                yield new ModelShape(
                        name,
                        "phi3",
                        3072,
                        32,
                        32,
                        32,
                        96,
                        8192,
                        32064,
                        4096,
                        10000f,
                        1e-5f,
                        false,
                        EnumSet.of(Block.FUSED),
                        extra,
                        phi3Tokenizer());
            }
            // Small enough for unit tests, yet every row length is a multiple of 256 so all types apply unchanged.
            case "tiny" ->
                llama(
                        name,
                        256,
                        2,
                        4,
                        2,
                        512,
                        1024,
                        512,
                        10000f,
                        bpe(
                                "gpt-2",
                                consecutive(0, List.of("<|endoftext|>", "<|im_start|>", "<|im_end|>")),
                                "<|im_start|>",
                                "<|im_end|>",
                                null,
                                false,
                                null));
            default ->
                throw new IllegalArgumentException(
                        "unknown shape '" + name + "' (known: " + String.join(", ", NAMES) + ")");
        };
    }

    private static ModelShape llama(
            String name,
            int dim,
            int layers,
            int heads,
            int kvHeads,
            int ffn,
            int vocab,
            int ctx,
            float theta,
            TokenizerSpec tok) {
        return new ModelShape(
                name,
                "llama",
                dim,
                layers,
                heads,
                kvHeads,
                dim / heads,
                ffn,
                vocab,
                ctx,
                theta,
                1e-5f,
                true,
                EnumSet.noneOf(Block.class),
                Map.of(),
                tok);
    }

    private static TokenizerSpec bpe(
            String pre, List<Special> specials, String bos, String eos, String pad, boolean addBos, String template) {
        return new TokenizerSpec("gpt2", pre, specials, -1, -1, bos, eos, null, pad, addBos, null, template);
    }

    private static List<Special> consecutive(int first, List<String> texts) {
        List<Special> out = new ArrayList<>(texts.size());
        for (int i = 0; i < texts.size(); i++) out.add(new Special(first + i, texts.get(i), CONTROL));
        return List.copyOf(out);
    }

    /** Llama 3's 256 special tokens: the named ones at their real positions, reserved tokens in between. */
    private static List<String> llama3Specials() {
        List<String> s = new ArrayList<>(List.of(
                "<|begin_of_text|>",
                "<|end_of_text|>",
                "<|reserved_special_token_0|>",
                "<|reserved_special_token_1|>",
                "<|finetune_right_pad_id|>",
                "<|reserved_special_token_2|>",
                "<|start_header_id|>",
                "<|end_header_id|>",
                "<|eom_id|>",
                "<|eot_id|>",
                "<|python_tag|>"));
        for (int r = 3; s.size() < 256; r++) s.add("<|reserved_special_token_" + r + "|>");
        return List.copyOf(s);
    }

    /**
     * Qwen2.5's added tokens from 151643 (Qwen3 adds four more), after 151643 regular BPE tokens. The tool-call,
     * FIM and think tokens are USER_DEFINED (tokenizer_config marks them "special": false; recalled, not re-checked
     * here), the others CONTROL. BOS is {@code <|endoftext|>} (config.json bos_token_id 151643; no BOS is added),
     * EOS {@code <|im_end|>} (the instruct models' eos_token).
     */
    private static TokenizerSpec qwenTokenizer(boolean qwen3, String template) {
        List<Special> s = new ArrayList<>();
        String[] control = {
            "<|endoftext|>",
            "<|im_start|>",
            "<|im_end|>",
            "<|object_ref_start|>",
            "<|object_ref_end|>",
            "<|box_start|>",
            "<|box_end|>",
            "<|quad_start|>",
            "<|quad_end|>",
            "<|vision_start|>",
            "<|vision_end|>",
            "<|vision_pad|>",
            "<|image_pad|>",
            "<|video_pad|>"
        };
        int id = 151643;
        for (String t : control) s.add(new Special(id++, t, CONTROL));
        String[] userDefined = {
            "<tool_call>",
            "</tool_call>",
            "<|fim_prefix|>",
            "<|fim_middle|>",
            "<|fim_suffix|>",
            "<|fim_pad|>",
            "<|repo_name|>",
            "<|file_sep|>"
        };
        for (String t : userDefined) s.add(new Special(id++, t, USER_DEFINED));
        if (qwen3) {
            for (String t : new String[] {"<tool_response>", "</tool_response>", "<think>", "</think>"})
                s.add(new Special(id++, t, USER_DEFINED));
        }
        return new TokenizerSpec(
                "gpt2",
                "qwen2",
                List.copyOf(s),
                151643,
                -1,
                "<|endoftext|>",
                "<|im_end|>",
                null,
                "<|endoftext|>",
                false,
                null,
                template);
    }

    /**
     * Gemma's SentencePiece vocabulary of 256000: {@code <pad>} 0, {@code <eos>} 1, {@code <bos>} 2, {@code <unk>} 3,
     * {@code <mask>} 4 (types as in published GGUFs), {@code <start_of_turn>} 106, {@code <end_of_turn>} 107 at their
     * real ids. Ids 5..105 stand in as {@code <unusedN>} control tokens and the byte tokens follow at 108; in the real
     * vocabulary those ids hold other control, whitespace and markup tokens (not reproduced).
     */
    private static TokenizerSpec gemmaTokenizer() {
        List<Special> s = new ArrayList<>(List.of(
                new Special(0, "<pad>", CONTROL),
                new Special(1, "<eos>", CONTROL),
                new Special(2, "<bos>", CONTROL),
                new Special(3, "<unk>", UNKNOWN),
                new Special(4, "<mask>", NORMAL)));
        for (int id = 5; id < 106; id++) s.add(new Special(id, "<unused" + (id - 5) + ">", CONTROL));
        s.add(new Special(106, "<start_of_turn>", CONTROL));
        s.add(new Special(107, "<end_of_turn>", CONTROL));
        return new TokenizerSpec(
                "llama",
                "default",
                List.copyOf(s),
                -1,
                108,
                "<bos>",
                "<eos>",
                "<unk>",
                "<pad>",
                true,
                false,
                "gemma-2.jinja");
    }

    /**
     * Phi-3's Llama-2 SentencePiece vocabulary: {@code <unk>} 0, {@code <s>} 1, {@code </s>} 2, the byte tokens 3..258,
     * pieces up to 31999, then the added tokens 32000..32010 and padding to 32064. EOS is {@code <|endoftext|>}
     * (config.json eos_token_id 32000); llama.cpp takes {@code <|end|>} as end of turn by its text. Whether the GGUF
     * of the instruct model adds BOS was not confirmed here; SentencePiece's default (add) is used.
     */
    private static TokenizerSpec phi3Tokenizer() {
        List<Special> s = new ArrayList<>(List.of(
                new Special(0, "<unk>", UNKNOWN), new Special(1, "<s>", CONTROL), new Special(2, "</s>", CONTROL)));
        String[] added = {
            "<|endoftext|>",
            "<|assistant|>",
            "<|placeholder1|>",
            "<|placeholder2|>",
            "<|placeholder3|>",
            "<|placeholder4|>",
            "<|system|>",
            "<|end|>",
            "<|placeholder5|>",
            "<|placeholder6|>",
            "<|user|>"
        };
        for (int i = 0; i < added.length; i++) s.add(new Special(32000 + i, added[i], CONTROL));
        return new TokenizerSpec(
                "llama",
                "default",
                List.copyOf(s),
                32000 - 3 - 256,
                3,
                "<s>",
                "<|endoftext|>",
                "<unk>",
                "<|endoftext|>",
                true,
                null,
                "phi-3.5.jinja");
    }

    /** The texts of the special tokens, in id order. */
    public List<String> specials() {
        return tokenizer.specials().stream().map(Special::text).toList();
    }

    /** Whether the special tokens take the lowest ids (SmolLM2) rather than following the regular ones. */
    public boolean specialsFirst() {
        return tokenizer.specials().getFirst().id() == 0;
    }

    /** The published chat template, or null where the shape has none. */
    public String chatTemplate() {
        if (tokenizer.chatTemplate() == null) return null;
        String resource = "chat-templates/" + tokenizer.chatTemplate();
        try (InputStream in = ModelShape.class.getResourceAsStream(resource)) {
            if (in == null) throw new IllegalStateException("missing resource " + resource);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public int headSize() {
        return headDim;
    }

    /** Width of Q (and of the attention output): heads * headDim, which need not equal dim. */
    public int qDim() {
        return heads * headDim;
    }

    public int kvDim() {
        return kvHeads * headDim;
    }

    /** Whether the head width is not dim/heads, so that the file must state it (attention.key_length). */
    public boolean explicitHeadDim() {
        return headDim * heads != dim;
    }

    /**
     * The same architecture and tokenizer in one small layer (dim 128, FFN 256, 4 heads) for tests: the vocabulary
     * keeps its real size and ids, and an explicit head width stays different from dim/heads.
     */
    public ModelShape miniature() {
        int h = 4, kv = kvHeads == heads ? 4 : 2, hd = explicitHeadDim() ? 64 : 32;
        return new ModelShape(
                name + "-mini",
                architecture,
                h * 32,
                1,
                h,
                kv,
                hd,
                256,
                vocab,
                contextLength,
                ropeTheta,
                rmsEps,
                tied,
                blocks,
                archMetadata,
                tokenizer);
    }

    /** Parameter count: embedding, the classifier when untied, the blocks and the final norm. */
    public long parameters() {
        long attn = (long) dim * qDim() * 2 + (long) dim * kvDim() * 2;
        long perLayer = 2L * dim + attn + 3L * dim * ffn;
        if (blocks.contains(Block.QKV_BIAS)) perLayer += qDim() + 2L * kvDim();
        if (blocks.contains(Block.QK_NORM)) perLayer += 2L * headDim;
        if (blocks.contains(Block.POST_NORMS)) perLayer += 2L * dim;
        long embeddings = (long) vocab * dim * (tied ? 1 : 2);
        return embeddings + layers * perLayer + dim;
    }
}
