package dev.anvil.api.openai;

import dev.anvil.serving.TokenLogprob;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Converts the service's per-token log probabilities into OpenAI's two logprobs formats. */
final class Logprobs {

    /** JSON has no infinities: a probability of zero is reported as this very unlikely value, as OpenAI does. */
    private static final float FLOOR = -9999f;

    private Logprobs() {}

    static float finite(float logprob) {
        return Float.isFinite(logprob) ? logprob : FLOOR;
    }

    static int[] unsigned(byte[] bytes) {
        int[] out = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) out[i] = bytes[i] & 0xff;
        return out;
    }

    /** Chat format: one entry per token with its bytes and the {@code top} alternatives. */
    static OpenAiJson.ChatLogprobs chat(List<TokenLogprob> tokens, int top) {
        List<OpenAiJson.ChatTokenLogprob> content = new ArrayList<>(tokens.size());
        for (TokenLogprob t : tokens) content.add(chatToken(t, top));
        return new OpenAiJson.ChatLogprobs(content);
    }

    static OpenAiJson.ChatTokenLogprob chatToken(TokenLogprob t, int top) {
        List<OpenAiJson.ChatTopLogprob> alternatives = new ArrayList<>();
        for (TokenLogprob.Alternative a : t.top()) {
            if (alternatives.size() == top) break;
            alternatives.add(new OpenAiJson.ChatTopLogprob(a.text(), finite(a.logprob()), unsigned(a.bytes())));
        }
        return new OpenAiJson.ChatTokenLogprob(t.text(), finite(t.logprob()), unsigned(t.bytes()), alternatives);
    }

    /**
     * Legacy completions format: parallel arrays; {@code textOffset} is where the first token starts in the
     * choice's text (after any echoed prompt).
     */
    static OpenAiJson.CompletionLogprobs completion(List<TokenLogprob> tokens, int textOffset) {
        List<String> texts = new ArrayList<>(tokens.size());
        List<Float> logprobs = new ArrayList<>(tokens.size());
        List<Map<String, Float>> tops = new ArrayList<>(tokens.size());
        List<Integer> offsets = new ArrayList<>(tokens.size());
        int offset = textOffset;
        for (TokenLogprob t : tokens) {
            texts.add(t.text());
            logprobs.add(finite(t.logprob()));
            Map<String, Float> top = new LinkedHashMap<>();
            for (TokenLogprob.Alternative a : t.top()) top.putIfAbsent(a.text(), finite(a.logprob()));
            tops.add(top);
            offsets.add(offset);
            offset += t.text().length();
        }
        return new OpenAiJson.CompletionLogprobs(texts, logprobs, tops, offsets);
    }
}
