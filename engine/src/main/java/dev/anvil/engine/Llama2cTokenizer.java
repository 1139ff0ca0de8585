package dev.anvil.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reader for llama2.c tokenizer files ({@code tokenizer.bin}, {@code tok512.bin}): little-endian int32
 * {@code max_token_length}, then per token a float32 score, an int32 byte length and the UTF-8 bytes.
 *
 * <p>llama2.c's exporter wrote SentencePiece pieces with {@code ▁} turned back into a space and BOS/EOS as
 * {@code "\n<s>\n"} / {@code "\n</s>\n"}; this reader undoes both so the result is the same
 * {@link SentencePieceTokenizer} a GGUF file with that vocabulary gives (ids 0/1/2 = unk/BOS/EOS, as llama2.c
 * hard-codes them; {@code <0xXX>} pieces are byte tokens).
 */
public final class Llama2cTokenizer {

    private static final int UNK = 0, BOS = 1, EOS = 2;

    private Llama2cTokenizer() {}

    /** Reads every token in the file. */
    public static SentencePieceTokenizer read(Path path) throws IOException {
        return read(path, -1);
    }

    /**
     * Reads {@code vocabSize} tokens (the model's vocab_size, as llama2.c does), or the whole file when
     * {@code vocabSize} is negative.
     */
    public static SentencePieceTokenizer read(Path path, int vocabSize) throws IOException {
        ByteBuffer in = ByteBuffer.wrap(Files.readAllBytes(path)).order(ByteOrder.LITTLE_ENDIAN);
        if (in.remaining() < 4) throw new UnsupportedModelException(path + ": too short for a llama2.c tokenizer");
        int maxTokenLength = in.getInt();
        if (maxTokenLength <= 0 || maxTokenLength > 4096) {
            throw new UnsupportedModelException(
                    path + ": implausible max_token_length " + maxTokenLength + " (not a llama2.c tokenizer?)");
        }
        List<String> tokens = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        var utf8 = StandardCharsets.UTF_8
                .newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        while (vocabSize < 0 ? in.hasRemaining() : tokens.size() < vocabSize) {
            int id = tokens.size();
            if (in.remaining() < 8) throw new UnsupportedModelException(path + ": truncated at token " + id);
            float score = in.getFloat();
            int length = in.getInt();
            if (length < 0 || length > maxTokenLength || length > in.remaining()) {
                throw new UnsupportedModelException(path + ": token " + id + " has bad length " + length
                        + " (max_token_length " + maxTokenLength + ")");
            }
            String text;
            try {
                text = utf8.decode(in.slice(in.position(), length)).toString();
            } catch (CharacterCodingException e) {
                throw new UnsupportedModelException(path + ": token " + id + " is not valid UTF-8", e);
            }
            in.position(in.position() + length);
            tokens.add(text);
            scores.add(score);
        }
        if (tokens.size() <= EOS) throw new UnsupportedModelException(path + ": only " + tokens.size() + " tokens");

        int n = tokens.size();
        String[] texts = new String[n];
        float[] scoreArray = new float[n];
        int[] types = new int[n];
        for (int i = 0; i < n; i++) {
            String text = tokens.get(i);
            scoreArray[i] = scores.get(i);
            if (i == BOS || i == EOS) {
                texts[i] = text.strip(); // "\n<s>\n" -> "<s>"
                types[i] = Tokenizer.TYPE_CONTROL;
            } else if (i == UNK) {
                texts[i] = text;
                types[i] = Tokenizer.TYPE_UNKNOWN;
            } else if (isByteToken(text)) {
                texts[i] = text;
                types[i] = Tokenizer.TYPE_BYTE;
            } else {
                texts[i] = text.replace(' ', '\u2581');
                types[i] = Tokenizer.TYPE_NORMAL;
            }
        }
        Tokenizer.Vocabulary vocab =
                new Tokenizer.Vocabulary(texts, scoreArray, types, BOS, EOS, UNK, -1, -1, true, false);
        return new SentencePieceTokenizer(vocab, true);
    }

    private static boolean isByteToken(String text) {
        return text.length() == 6
                && text.startsWith("<0x")
                && text.charAt(5) == '>'
                && Character.digit(text.charAt(3), 16) >= 0
                && Character.digit(text.charAt(4), 16) >= 0;
    }
}
