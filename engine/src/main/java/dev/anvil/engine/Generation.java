package dev.anvil.engine;

import java.util.Arrays;
import java.util.List;

/**
 * The per-request state of text generation shared by the CLI and the server: sampling, the token history
 * for penalties, streaming detokenization, stop strings, end-of-generation tokens and the token limit. It
 * does not run the model: the caller (a loop or the batch scheduler) feeds it the logits of each step and
 * feeds the returned token back into the next forward pass unless the step finished the generation.
 *
 * <pre>{@code
 * Generation g = new Generation(tokenizer, promptTokens, params, maxTokens, List.of("\n\n"));
 * float[] logits = prefill(promptTokens);
 * while (true) {
 *     Generation.Step s = g.next(logits);
 *     out.print(s.text());
 *     if (s.finished()) break;
 *     logits = decode(s.token());
 * }
 * }</pre>
 *
 * Stop strings match decoded text, also across token boundaries; the stop string and anything after it
 * are never emitted, and text that might be the start of a stop string is held back until it is decided.
 * Not thread-safe: one per request.
 */
public final class Generation {

    /** Why a generation ended. */
    public enum FinishReason {
        /** The model produced an end-of-generation token (EOS, end of turn). */
        END_OF_SEQUENCE,
        /** The decoded text reached one of the stop strings. */
        STOP_STRING,
        /** {@code maxTokens} tokens were generated. */
        MAX_TOKENS,
        /**
         * The grammar ended it ({@link GrammarConstraint}): it is complete, nothing may follow; or, for a lazy grammar,
         * what followed its trigger already broke it. The last token is ordinary output (unlike an EOS).
         */
        GRAMMAR
    }

    /**
     * One generated token.
     *
     * @param token  the sampled id (an end-of-generation token is reported but its text is not)
     * @param sample its log-probability and alternatives
     * @param text   text that became final with this token (possibly empty)
     * @param finish why generation ended with this step, or null if it continues
     */
    public record Step(int token, Sampler.SampledToken sample, String text, FinishReason finish) {
        public boolean finished() {
            return finish != null;
        }
    }

    private final Tokenizer tokenizer;
    private final Sampler sampler;
    private final TokenDecoder decoder;
    private final int maxTokens;
    private final List<String> stops;
    private final int promptLength;
    private int[] history;
    private int historyLength;
    private final StringBuilder heldBack = new StringBuilder();
    private final StringBuilder text = new StringBuilder();
    private FinishReason finish;
    /** Constrained decoding: the grammar, and where the output stands in it (null: not constrained yet). */
    private final GrammarConstraint constraint;

    private GrammarState grammarState;
    /** A lazy grammar's triggers, and the output bytes searched for them until one appears. */
    private byte[][] triggers;

    private byte[] lazyBytes;
    private int lazyLength;

    /**
     * @param promptTokens the tokens already fed to the model (they count for penalties)
     * @param maxTokens    at most this many tokens are generated (at least 1)
     * @param stopStrings  texts that end the generation (empty strings are ignored)
     */
    public Generation(
            Tokenizer tokenizer, int[] promptTokens, SamplingParams params, int maxTokens, List<String> stopStrings) {
        this(tokenizer, promptTokens, params, maxTokens, stopStrings, null);
    }

    /**
     * @param grammar the grammar the output must follow, or null (see {@link GrammarConstraint}); the vocabulary
     *                must have an end-of-generation token
     */
    public Generation(
            Tokenizer tokenizer,
            int[] promptTokens,
            SamplingParams params,
            int maxTokens,
            List<String> stopStrings,
            GrammarConstraint grammar) {
        if (maxTokens < 1) throw new IllegalArgumentException("max tokens must be >= 1, was " + maxTokens);
        this.constraint = grammar;
        if (grammar != null) {
            if (!TokenTrie.of(tokenizer).hasEndOfGeneration())
                throw new IllegalArgumentException(
                        "constrained decoding needs a vocabulary with an end-of-generation token");
            if (grammar.isLazy()) {
                triggers = grammar.triggerBytes();
                lazyBytes = new byte[64];
            } else grammarState = GrammarState.initial(grammar.grammar());
        }
        this.tokenizer = tokenizer;
        this.sampler = new Sampler(params);
        // Text generated right after BOS starts the document: drop its SentencePiece dummy space, as llama.cpp does.
        boolean startOfText =
                promptTokens.length == 0 || (promptTokens.length == 1 && promptTokens[0] == tokenizer.bos());
        this.decoder = new TokenDecoder(tokenizer, startOfText);
        this.maxTokens = maxTokens;
        this.stops = stopStrings.stream().filter(s -> !s.isEmpty()).toList();
        this.promptLength = promptTokens.length;
        this.history = Arrays.copyOf(promptTokens, promptTokens.length + Math.min(maxTokens, 1024));
        this.historyLength = promptTokens.length;
    }

    /** Samples the next token from {@code logits} and advances the text; must not be called once finished. */
    public Step next(float[] logits) {
        if (finish != null) throw new IllegalStateException("generation already finished: " + finish);
        Sampler.SampledToken sample = sampler.sample(logits, history, historyLength, allowedTokens());
        return accept(sample.token(), sample);
    }

    /**
     * The tokens the grammar allows next, as a bitset over token ids (shared: do not modify), or null when the
     * output is not constrained (no grammar, or a lazy one not triggered yet). When the grammar allows no token of
     * this vocabulary (or only parses nested beyond its limits remain), only end-of-generation tokens are allowed:
     * the generation ends as if the model had stopped.
     */
    public long[] allowedTokens() {
        if (grammarState == null) return null;
        TokenTrie trie = TokenTrie.of(tokenizer, decoder.dropsLeadingSpaceOfNextToken());
        long[] mask = trie.mask(grammarState);
        return TokenTrie.isEmpty(mask) ? trie.endOfGenerationMask() : mask;
    }

    /** Where the output stands in its grammar; null when not constrained (yet). */
    public GrammarState grammarState() {
        return grammarState;
    }

    /**
     * The distribution {@link #next} would draw the next token from after {@code logits}, penalties over the history so
     * far included ({@link Sampler#distribution}): the target side of speculative rejection sampling.
     */
    public float[] distribution(float[] logits) {
        return sampler.distribution(logits, history, historyLength);
    }

    /**
     * Advances with {@code token} chosen by speculative verification, reporting its log-probabilities under
     * {@code logits} exactly as {@link #next} would have.
     */
    public Step acceptChosen(int token, float[] logits) {
        return accept(token, sampler.withLogprobs(token, logits));
    }

    /** Tokens still allowed before {@code maxTokens} is reached. */
    public int remainingTokens() {
        return maxTokens - generatedCount();
    }

    /**
     * Advances with a token chosen elsewhere (e.g. forced); {@code sample} may be null. Under a grammar the token
     * must be one {@link #allowedTokens()} allows.
     */
    public Step accept(int token, Sampler.SampledToken sample) {
        if (finish != null) throw new IllegalStateException("generation already finished: " + finish);
        boolean endOfGeneration = tokenizer.isEndOfGeneration(token);
        byte[] bytes = null;
        if (constraint != null && !endOfGeneration) {
            bytes = tokenizer.tokenBytes(token);
            if (decoder.dropsLeadingSpaceOfNextToken() && bytes.length > 0 && bytes[0] == ' ')
                bytes = Arrays.copyOfRange(bytes, 1, bytes.length);
            if (grammarState != null) {
                GrammarState next = bytes.length == 0 ? null : grammarState.advance(bytes);
                if (next == null)
                    throw new IllegalArgumentException("token " + token + " is not allowed by the grammar here");
                grammarState = next;
            }
        }
        if (historyLength == history.length) history = Arrays.copyOf(history, history.length * 2);
        history[historyLength++] = token;
        if (endOfGeneration) return finishWith(token, sample, FinishReason.END_OF_SEQUENCE, "");
        heldBack.append(decoder.accept(token));
        for (String stop : stops) {
            int at = heldBack.indexOf(stop);
            if (at >= 0) {
                String before = heldBack.substring(0, at);
                heldBack.setLength(0);
                return finishWith(token, sample, FinishReason.STOP_STRING, before);
            }
        }
        if (triggers != null && grammarState == null && bytes != null && !trigger(bytes))
            return finishWith(token, sample, FinishReason.GRAMMAR, drainAll()); // what followed broke the grammar
        // The grammar is complete: nothing may follow, so the generation ends as if the model had stopped.
        if (grammarState != null && grammarState.isComplete())
            return finishWith(token, sample, FinishReason.GRAMMAR, drainAll());
        if (generatedCount() >= maxTokens) return finishWith(token, sample, FinishReason.MAX_TOKENS, drainAll());
        int keep = longestStopPrefixSuffix();
        String out = heldBack.substring(0, heldBack.length() - keep);
        heldBack.delete(0, heldBack.length() - keep);
        text.append(out);
        return new Step(token, sample, out, null);
    }

    /**
     * A lazy grammar: appends the token's bytes to the output searched for a trigger; once one appears, the grammar
     * starts at the trigger's first byte and reads everything from there. False when that already breaks it.
     */
    private boolean trigger(byte[] bytes) {
        if (lazyLength + bytes.length > lazyBytes.length)
            lazyBytes = Arrays.copyOf(lazyBytes, Math.max(lazyBytes.length * 2, lazyLength + bytes.length));
        System.arraycopy(bytes, 0, lazyBytes, lazyLength, bytes.length);
        int before = lazyLength;
        lazyLength += bytes.length;
        int first = -1;
        for (byte[] t : triggers) {
            // Only occurrences that end in this token are new.
            for (int at = Math.max(0, before - t.length + 1); at + t.length <= lazyLength; at++) {
                if (Arrays.equals(lazyBytes, at, at + t.length, t, 0, t.length)) {
                    if (first < 0 || at < first) first = at;
                    break;
                }
            }
        }
        if (first < 0) return true;
        grammarState = GrammarState.initial(constraint.grammar()).advance(lazyBytes, first, lazyLength);
        triggers = null;
        lazyBytes = null;
        return grammarState != null;
    }

    private String drainAll() {
        String out = heldBack.append(decoder.flush()).toString();
        heldBack.setLength(0);
        return out;
    }

    private Step finishWith(int token, Sampler.SampledToken sample, FinishReason reason, String out) {
        if (reason == FinishReason.END_OF_SEQUENCE) out = drainAll();
        // GRAMMAR: the caller drained (held-back text is final: no stop string can complete any more).
        finish = reason;
        text.append(out);
        return new Step(token, sample, out, reason);
    }

    /** Length of the longest suffix of the held-back text that is a proper prefix of some stop string. */
    private int longestStopPrefixSuffix() {
        int best = 0;
        String held = heldBack.toString();
        for (String stop : stops) {
            for (int len = Math.min(stop.length() - 1, held.length()); len > best; len--) {
                if (held.regionMatches(held.length() - len, stop, 0, len)) {
                    best = len;
                    break;
                }
            }
        }
        return best;
    }

    public boolean finished() {
        return finish != null;
    }

    public FinishReason finishReason() {
        return finish;
    }

    /** All text emitted so far. */
    public String text() {
        return text.toString();
    }

    /** Tokens generated so far (an end-of-generation token included). */
    public int generatedCount() {
        return historyLength - promptLength;
    }

    /** The generated token ids. */
    public int[] generatedTokens() {
        return Arrays.copyOfRange(history, promptLength, historyLength);
    }

    public Sampler sampler() {
        return sampler;
    }
}
