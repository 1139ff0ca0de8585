package dev.anvil.registry;

import dev.anvil.engine.ModelConfig;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The configuration header of a llama2.c checkpoint: seven little-endian int32 (dim, hidden_dim, n_layers,
 * n_heads, n_kv_heads, vocab_size, seq_len), vocab_size negative when the classifier is stored separately,
 * followed by float32 weights in a fixed order. Only the header is read; the file's length must be
 * exactly what the header implies, which catches truncated copies and files that are something else.
 */
record Llama2cHeader(
        int dim,
        int hiddenDim,
        int layers,
        int heads,
        int kvHeads,
        int vocabSize,
        int seqLen,
        boolean sharedClassifier) {

    static final int HEADER_BYTES = 28;

    /** Reads and checks the header; a message naming the problem is thrown for anything implausible. */
    static Llama2cHeader read(Path path) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        long size;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            size = ch.size();
            while (buf.hasRemaining() && ch.read(buf) >= 0) {
                // keep reading until the header is complete or the file ends
            }
        }
        if (buf.hasRemaining()) {
            throw new IllegalArgumentException("file is " + size + " bytes, shorter than the 28-byte llama2.c header");
        }
        buf.flip();
        int dim = buf.getInt(), hidden = buf.getInt(), layers = buf.getInt(), heads = buf.getInt();
        int kvHeads = buf.getInt(), vocabRaw = buf.getInt(), seqLen = buf.getInt();
        int vocab = vocabRaw == Integer.MIN_VALUE ? -1 : Math.abs(vocabRaw);
        boolean plausible = dim > 0
                && dim <= 1 << 16
                && hidden > 0
                && hidden <= 1 << 18
                && layers > 0
                && layers <= 1024
                && heads > 0
                && heads <= dim
                && dim % heads == 0
                && kvHeads > 0
                && kvHeads <= heads
                && heads % kvHeads == 0
                && vocab > 0
                && vocab <= 1 << 22
                && seqLen > 0
                && seqLen <= 1 << 22;
        if (!plausible) {
            throw new IllegalArgumentException("implausible llama2.c header (dim " + dim + ", hidden_dim " + hidden
                    + ", n_layers " + layers + ", n_heads " + heads + ", n_kv_heads " + kvHeads + ", vocab_size "
                    + vocabRaw + ", seq_len " + seqLen + ")");
        }
        // The engine's own rules for the shape (head size, RoPE dimension, grouped-query heads, context length).
        new ModelConfig(
                "llama", dim, hidden, layers, heads, kvHeads, vocab, seqLen, 1e-5f, 10000f, dim / heads, vocabRaw > 0);
        Llama2cHeader header = new Llama2cHeader(dim, hidden, layers, heads, kvHeads, vocab, seqLen, vocabRaw > 0);
        long expected = HEADER_BYTES + 4L * header.storedFloats();
        if (size != expected) {
            throw new IllegalArgumentException("file is " + size + " bytes but its llama2.c header describes "
                    + expected + " bytes (truncated or not a llama2.c checkpoint)");
        }
        return header;
    }

    int headSize() {
        return dim / heads;
    }

    /** Learned parameters: every weight tensor, excluding the precomputed RoPE tables the format also stores. */
    long parameterCount() {
        long d = dim, h = hiddenDim, l = layers, v = vocabSize, kvDim = (long) kvHeads * headSize();
        long perLayer = d // rms_att
                + d * d // wq
                + 2 * d * kvDim // wk, wv
                + d * d // wo
                + d // rms_ffn
                + 3 * d * h; // w1, w2, w3
        return v * d + l * perLayer + d + (sharedClassifier ? 0 : v * d);
    }

    /** Everything stored after the header, in floats: the parameters plus freq_cis_real and freq_cis_imag. */
    long storedFloats() {
        return parameterCount() + (long) seqLen * headSize();
    }
}
