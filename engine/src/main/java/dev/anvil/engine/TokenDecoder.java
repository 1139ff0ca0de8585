package dev.anvil.engine;

import java.util.Arrays;

/**
 * Streaming detokenizer: feed generated token ids one at a time and get back only text that is complete.
 * A UTF-8 character whose bytes arrive in several tokens (byte-fallback tokens, byte-level BPE pieces of an
 * emoji or CJK character) is held back until its last byte arrives. Bytes become U+FFFD only when they can no
 * longer be the start of a valid character (Unicode "maximal subpart" replacement), or at {@link #flush()}.
 *
 * <p>Like llama.cpp's SentencePiece detokenizer, the leading space of the first token after a leading BOS is
 * dropped when the tokenizer adds a dummy space prefix (once per decoder: a later BOS, as in multi-turn chat
 * prompts, keeps the following space). Not thread-safe: one decoder per generation stream.
 */
public final class TokenDecoder {

    private static final char REPLACEMENT = '\uFFFD';

    private final Tokenizer tokenizer;
    private final boolean dropsDummySpace;
    private boolean dropSpaceOfNextToken;
    /** Set by the first non-BOS token: like llama.cpp, only the text's first token loses its dummy space. */
    private boolean started;

    private byte[] pending = new byte[16];
    private int pendingLength;

    /** A decoder for a continuation (e.g. generated tokens after a prompt): only a BOS fed to it triggers the dummy-space strip. */
    public TokenDecoder(Tokenizer tokenizer) {
        this(tokenizer, false);
    }

    /**
     * @param atStartOfText true when the first token fed begins the text, so its dummy space (SentencePiece)
     *                      is stripped even without a BOS in front of it
     */
    public TokenDecoder(Tokenizer tokenizer, boolean atStartOfText) {
        this.tokenizer = tokenizer;
        this.dropsDummySpace = tokenizer.addsSpacePrefix();
        this.dropSpaceOfNextToken = atStartOfText && dropsDummySpace;
    }

    /** Decodes a whole sequence at once, as {@link Tokenizer#decode} does. */
    static String decodeAll(Tokenizer tokenizer, int[] ids) {
        TokenDecoder decoder = new TokenDecoder(tokenizer, true);
        StringBuilder text = new StringBuilder();
        for (int id : ids) text.append(decoder.accept(id));
        return text.append(decoder.flush()).toString();
    }

    /** Feeds one token; returns the text completed by it (possibly empty, never half a character). */
    public String accept(int id) {
        if (id == tokenizer.bos() && dropsDummySpace && !started) {
            dropSpaceOfNextToken = true;
            return "";
        }
        started = true;
        byte[] bytes = tokenizer.tokenBytes(id);
        int from = 0;
        if (dropSpaceOfNextToken) {
            dropSpaceOfNextToken = false;
            if (bytes.length > 0 && bytes[0] == ' ') from = 1;
        }
        int add = bytes.length - from;
        if (add == 0) return "";
        if (pendingLength + add > pending.length)
            pending = Arrays.copyOf(pending, Math.max(pending.length * 2, pendingLength + add));
        System.arraycopy(bytes, from, pending, pendingLength, add);
        pendingLength += add;
        return drain(false);
    }

    /** Whether the next (non-BOS) token fed loses its leading space (the dummy space at the start of the text). */
    public boolean dropsLeadingSpaceOfNextToken() {
        return dropSpaceOfNextToken;
    }

    /** Ends the stream: bytes of an unfinished character come out as U+FFFD. */
    public String flush() {
        return drain(true);
    }

    /** Whether bytes of an unfinished character are being held back. */
    public boolean hasPendingBytes() {
        return pendingLength > 0;
    }

    private String drain(boolean endOfStream) {
        StringBuilder out = new StringBuilder(pendingLength);
        int consumed = decodeUtf8(pending, pendingLength, out, endOfStream);
        System.arraycopy(pending, consumed, pending, 0, pendingLength - consumed);
        pendingLength -= consumed;
        return out.toString();
    }

    /**
     * Decodes the complete characters of {@code buf[0..length)} into {@code out} and returns how many bytes were
     * consumed. An incomplete but so far valid sequence at the end is left unconsumed unless {@code endOfStream}.
     */
    static int decodeUtf8(byte[] buf, int length, StringBuilder out, boolean endOfStream) {
        int i = 0;
        while (i < length) {
            int lead = buf[i] & 0xFF;
            if (lead < 0x80) {
                out.append((char) lead);
                i++;
                continue;
            }
            int need, lo = 0x80, hi = 0xBF, cp;
            if (lead >= 0xC2 && lead <= 0xDF) {
                need = 1;
                cp = lead & 0x1F;
            } else if (lead >= 0xE0 && lead <= 0xEF) {
                need = 2;
                cp = lead & 0x0F;
                if (lead == 0xE0) lo = 0xA0; // no overlong forms
                else if (lead == 0xED) hi = 0x9F; // no UTF-16 surrogates
            } else if (lead >= 0xF0 && lead <= 0xF4) {
                need = 3;
                cp = lead & 0x07;
                if (lead == 0xF0) lo = 0x90; // no overlong forms
                else if (lead == 0xF4) hi = 0x8F; // nothing above U+10FFFF
            } else {
                out.append(REPLACEMENT); // continuation byte without lead, or never-valid byte
                i++;
                continue;
            }
            int k = 1;
            boolean truncated = false, invalid = false;
            for (; k <= need; k++) {
                if (i + k >= length) {
                    truncated = true;
                    break;
                }
                int b = buf[i + k] & 0xFF;
                int min = k == 1 ? lo : 0x80, max = k == 1 ? hi : 0xBF;
                if (b < min || b > max) {
                    invalid = true;
                    break;
                }
                cp = (cp << 6) | (b & 0x3F);
            }
            if (truncated && !endOfStream) return i; // may still be completed by the next token
            if (truncated || invalid) {
                out.append(REPLACEMENT); // the valid prefix so far is one maximal subpart
                i += k;
                continue;
            }
            out.appendCodePoint(cp);
            i += need + 1;
        }
        return i;
    }
}
