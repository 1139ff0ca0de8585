package dev.anvil.engine.cli;

import java.util.ArrayList;
import java.util.List;

/**
 * Hyper-parameters of the llama-architecture models {@code anvil synth} can imitate, taken from the published
 * configurations of the real checkpoints, plus their tokenizer's special tokens and BOS/EOS conventions.
 *
 * @param specialsFirst whether the special tokens take the lowest ids (SmolLM2) or the highest (Llama 3)
 * @param addBos        whether prompts start with BOS ({@code tokenizer.ggml.add_bos_token})
 * @param preTokenizer  {@code tokenizer.ggml.pre}: the llama.cpp pre-tokenizer name of the real model
 */
public record ModelShape(
        String name,
        int dim,
        int layers,
        int heads,
        int kvHeads,
        int ffn,
        int vocab,
        int contextLength,
        float ropeTheta,
        float rmsEps,
        List<String> specials,
        boolean specialsFirst,
        String bosText,
        String eosText,
        boolean addBos,
        String preTokenizer) {

    public static final List<String> NAMES = List.of("smollm2-135m", "smollm2-360m", "llama-3.2-1b", "tiny");

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

    public static ModelShape named(String name) {
        return switch (name) {
            case "smollm2-135m" ->
                new ModelShape(
                        name,
                        576,
                        30,
                        9,
                        3,
                        1536,
                        49152,
                        8192,
                        100000f,
                        1e-5f,
                        SMOLLM2_SPECIALS,
                        true,
                        "<|im_start|>",
                        "<|im_end|>",
                        false,
                        "smollm");
            case "smollm2-360m" ->
                new ModelShape(
                        name,
                        960,
                        32,
                        15,
                        5,
                        2560,
                        49152,
                        8192,
                        100000f,
                        1e-5f,
                        SMOLLM2_SPECIALS,
                        true,
                        "<|im_start|>",
                        "<|im_end|>",
                        false,
                        "smollm");
            case "llama-3.2-1b" ->
                new ModelShape(
                        name,
                        2048,
                        16,
                        32,
                        8,
                        8192,
                        128256,
                        131072,
                        500000f,
                        1e-5f,
                        llama3Specials(),
                        false,
                        "<|begin_of_text|>",
                        "<|eot_id|>",
                        true,
                        "llama-bpe");
            // Small enough for unit tests, yet every row length is a multiple of 256 so all types apply unchanged.
            case "tiny" ->
                new ModelShape(
                        name,
                        256,
                        2,
                        4,
                        2,
                        512,
                        1024,
                        512,
                        10000f,
                        1e-5f,
                        List.of("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
                        true,
                        "<|im_start|>",
                        "<|im_end|>",
                        false,
                        "gpt-2");
            default ->
                throw new IllegalArgumentException(
                        "unknown shape '" + name + "' (known: " + String.join(", ", NAMES) + ")");
        };
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

    public int headSize() {
        return dim / heads;
    }

    public int kvDim() {
        return kvHeads * headSize();
    }

    /** Parameter count: embedding (tied, counted once) plus the blocks and the final norm. */
    public long parameters() {
        long perLayer = 2L * dim + (long) dim * dim * 2 + (long) dim * kvDim() * 2 + 3L * dim * ffn;
        return (long) vocab * dim + layers * perLayer + dim;
    }
}
