package dev.anvil.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The configuration header of a llama2.c checkpoint: seven little-endian int32 (dim, hidden_dim, n_layers, n_heads,
 * n_kv_heads, vocab_size, seq_len), vocab_size negative when the classifier is stored separately, followed by float32
 * tensors in a fixed order. This is where the format's header rules live, so that whoever reads a checkpoint's header
 * (loading it, or registering it without loading it) accepts and refuses the same files for the same reasons.
 *
 * @param config    the hyper-parameters the header describes, checked by {@link ModelConfig}
 * @param fileBytes size of the file the header was read from
 */
public record Llama2cHeader(ModelConfig config, long fileBytes) {

    /** Bytes of the header, before the first tensor. */
    public static final int BYTES = 28;

    /**
     * Reads and checks the header of {@code path} without reading its weights.
     *
     * @throws UnsupportedModelException naming the path and the problem: a file shorter than the header, implausible
     *     or inconsistent hyper-parameters, or fewer bytes than the header's tensors need
     */
    public static Llama2cHeader read(Path path) throws IOException {
        ByteBuffer header = ByteBuffer.allocate(BYTES).order(ByteOrder.LITTLE_ENDIAN);
        long size;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            size = ch.size();
            while (header.hasRemaining() && ch.read(header) >= 0) {
                // keep reading until the header is complete or the file ends
            }
        }
        if (header.hasRemaining()) {
            throw new UnsupportedModelException(
                    path + ": file is " + size + " bytes, shorter than the " + BYTES + "-byte llama2.c header");
        }
        header.flip();
        int dim = header.getInt(), hidden = header.getInt(), layers = header.getInt(), heads = header.getInt();
        int kvHeads = header.getInt(), vocabRaw = header.getInt(), seqLen = header.getInt();
        int vocab = Math.abs(vocabRaw); // Integer.MIN_VALUE stays negative and is refused below
        // Bounds beyond any model this engine runs: they keep the size arithmetic below far from overflow.
        if (dim <= 0
                || dim > 1 << 16
                || hidden <= 0
                || hidden > 1 << 18
                || layers <= 0
                || layers > 1024
                || heads <= 0
                || heads > dim
                || kvHeads <= 0
                || vocab <= 0
                || vocab > 1 << 22
                || seqLen <= 0
                || seqLen > ModelConfig.MAX_CONTEXT_LENGTH) {
            throw new UnsupportedModelException(path + ": implausible llama2.c header (dim " + dim + ", hidden_dim "
                    + hidden + ", n_layers " + layers + ", n_heads " + heads + ", n_kv_heads " + kvHeads
                    + ", vocab_size " + vocabRaw + ", seq_len " + seqLen + ")");
        }
        ModelConfig config;
        try {
            // The engine's rules for the shape (head size, RoPE dimension, grouped-query heads, context length).
            config = new ModelConfig(
                    "llama",
                    dim,
                    hidden,
                    layers,
                    heads,
                    kvHeads,
                    vocab,
                    seqLen,
                    1e-5f,
                    10000f,
                    dim / heads,
                    vocabRaw > 0);
        } catch (UnsupportedModelException e) {
            throw new UnsupportedModelException(path + ": " + e.getMessage(), e);
        }
        Llama2cHeader parsed = new Llama2cHeader(config, size);
        if (size < parsed.describedBytes()) {
            throw new UnsupportedModelException(path + ": file is " + size + " bytes but its llama2.c header describes "
                    + parsed.describedBytes() + " bytes (truncated)");
        }
        return parsed;
    }

    /** Whether the classifier reuses the token embedding (vocab_size positive in the file). */
    public boolean sharedClassifier() {
        return config.tiedEmbeddings();
    }

    /** Learned parameters: every weight tensor, excluding the precomputed RoPE tables the format also stores. */
    public long parameterCount() {
        long d = config.dim(), h = config.hiddenDim(), l = config.layers(), v = config.vocabSize();
        long kvDim = config.kvDim();
        long perLayer = d // rms_att
                + d * d // wq
                + 2 * d * kvDim // wk, wv
                + d * d // wo
                + d // rms_ffn
                + 3 * d * h; // w1, w2, w3
        return v * d + l * perLayer + d + (sharedClassifier() ? 0 : v * d);
    }

    /** Size of a checkpoint with this header: the header, the parameters, freq_cis_real and freq_cis_imag. */
    public long describedBytes() {
        return BYTES + 4L * (parameterCount() + (long) config.contextLength() * config.headSize());
    }
}
