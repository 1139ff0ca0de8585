package dev.anvil.cache;

import dev.anvil.serving.FinishReason;
import dev.anvil.serving.TokenLogprob;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The bytes a {@link CachedGeneration} is stored as. The cache holds {@code String -> byte[]}, types every
 * marshaller of WildFly's Infinispan subsystem (ProtoStream included) handles without registering application
 * classes, so the same entries work in a local cache and in a distributed one. Layout: a format byte, then
 * length-prefixed fields (DataOutput: big-endian ints, floats as bits, strings as UTF-8 with an int length).
 */
public final class CachedGenerationCodec {

    /** Bumped when the layout changes; entries of another layout decode as absent. */
    static final byte LAYOUT = 2;

    private CachedGenerationCodec() {}

    public static byte[] encode(CachedGeneration g) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeByte(LAYOUT);
            out.writeInt(g.prompts().size());
            for (CachedGeneration.Prompt p : g.prompts()) {
                out.writeInt(p.promptTokens());
                out.writeInt(p.completionTokens());
                out.writeInt(p.cachedTokens());
                out.writeInt(p.choices().size());
                for (CachedGeneration.Choice c : p.choices()) {
                    out.writeInt(c.index());
                    out.writeByte(c.finishReason().ordinal());
                    out.writeInt(c.tokens().length);
                    for (int t : c.tokens()) out.writeInt(t);
                    out.writeInt(c.deltas().size());
                    for (CachedGeneration.Delta d : c.deltas()) {
                        string(out, d.text());
                        TokenLogprob lp = d.logprob();
                        out.writeBoolean(lp != null);
                        if (lp == null) continue;
                        out.writeInt(lp.token());
                        string(out, lp.text());
                        bytes(out, lp.bytes());
                        out.writeFloat(lp.logprob());
                        out.writeInt(lp.top().size());
                        for (TokenLogprob.Alternative a : lp.top()) {
                            out.writeInt(a.token());
                            string(out, a.text());
                            bytes(out, a.bytes());
                            out.writeFloat(a.logprob());
                        }
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("writing to memory cannot fail", e);
        }
        return bytes.toByteArray();
    }

    /**
     * Decodes what {@link #encode} wrote.
     *
     * @throws IllegalArgumentException if the bytes are of another layout or damaged
     */
    public static CachedGeneration decode(byte[] data) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(data))) {
            byte layout = in.readByte();
            if (layout != LAYOUT)
                throw new IllegalArgumentException("cached generation layout " + layout + ", expected " + LAYOUT);
            int prompts = count(in);
            List<CachedGeneration.Prompt> promptList = new ArrayList<>(prompts);
            for (int p = 0; p < prompts; p++) {
                int promptTokens = in.readInt();
                int completionTokens = in.readInt();
                int cachedTokens = in.readInt();
                int choices = count(in);
                List<CachedGeneration.Choice> choiceList = new ArrayList<>(choices);
                for (int c = 0; c < choices; c++) {
                    int index = in.readInt();
                    int reason = in.readUnsignedByte();
                    if (reason >= FinishReason.values().length)
                        throw new IllegalArgumentException("finish reason " + reason);
                    int[] tokens = new int[count(in)];
                    for (int i = 0; i < tokens.length; i++) tokens[i] = in.readInt();
                    int deltas = count(in);
                    List<CachedGeneration.Delta> deltaList = new ArrayList<>(deltas);
                    for (int d = 0; d < deltas; d++) {
                        String text = string(in);
                        TokenLogprob lp = null;
                        if (in.readBoolean()) {
                            int token = in.readInt();
                            String tokenText = string(in);
                            byte[] tokenBytes = bytes(in);
                            float logprob = in.readFloat();
                            int top = count(in);
                            List<TokenLogprob.Alternative> alternatives = new ArrayList<>(top);
                            for (int a = 0; a < top; a++) {
                                alternatives.add(new TokenLogprob.Alternative(
                                        in.readInt(), string(in), bytes(in), in.readFloat()));
                            }
                            lp = new TokenLogprob(token, tokenText, tokenBytes, logprob, List.copyOf(alternatives));
                        }
                        deltaList.add(new CachedGeneration.Delta(text, lp));
                    }
                    choiceList.add(
                            new CachedGeneration.Choice(index, FinishReason.values()[reason], tokens, deltaList));
                }
                promptList.add(new CachedGeneration.Prompt(promptTokens, completionTokens, cachedTokens, choiceList));
            }
            if (in.available() > 0) throw new IllegalArgumentException(in.available() + " trailing bytes");
            return new CachedGeneration(promptList);
        } catch (IOException e) {
            throw new IllegalArgumentException("truncated cached generation: " + e.getMessage(), e);
        }
    }

    private static int count(DataInputStream in) throws IOException {
        int n = in.readInt();
        // Every counted item takes at least one byte, so a count beyond what is left means damaged data.
        if (n < 0 || n > in.available())
            throw new IllegalArgumentException("count " + n + " with " + in.available() + " bytes left");
        return n;
    }

    private static void string(DataOutputStream out, String s) throws IOException {
        bytes(out, s.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    private static String string(DataInputStream in) throws IOException {
        return new String(bytes(in), java.nio.charset.StandardCharsets.UTF_8);
    }

    private static void bytes(DataOutputStream out, byte[] b) throws IOException {
        out.writeInt(b.length);
        out.write(b);
    }

    private static byte[] bytes(DataInputStream in) throws IOException {
        int n = in.readInt();
        if (n < 0 || n > in.available())
            throw new IllegalArgumentException("byte length " + n + " with " + in.available() + " bytes left");
        byte[] b = new byte[n];
        in.readFully(b);
        return b;
    }
}
