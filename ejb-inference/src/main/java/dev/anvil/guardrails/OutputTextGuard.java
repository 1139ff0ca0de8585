package dev.anvil.guardrails;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.BiConsumer;

/**
 * The output checks of one generated choice, fed as the text is produced (a stream) or all at once.
 *
 * <p>Streaming: text is released only once no finding can still start in it. PII patterns and blocked terms have
 * bounded lengths, so holding back a window of {@link #window()} characters (the longest possible match plus the
 * patterns' look-ahead) is enough: whatever starts before the window is decided for good, redacted as the policy
 * says, and sent; the window follows at the end. When the request asks for JSON and {@code json_output} blocks,
 * the whole text is held until it is complete and validated, because invalid JSON can only be known at the end.
 *
 * <p>A block stops the choice: {@link Step#blockedBy()} names the check, and nothing more is released.
 */
public final class OutputTextGuard {

    /** Text released by one call, and the check that blocked the choice (null if none). */
    public record Step(String text, GuardrailCheck blockedBy, String reason) {
        public boolean blocked() {
            return blockedBy != null;
        }
    }

    /** Look-ahead of the patterns beyond a match's last character. */
    private static final int LOOKAHEAD = 3;

    private final GuardrailPolicy policy;
    private final JsonOutputRequirement json;
    private final BiConsumer<GuardrailCheck, GuardrailAction> recorder;
    private final GuardrailAction pii;
    private final GuardrailAction terms;
    private final boolean holdAll;
    private final int window;
    private final StringBuilder raw = new StringBuilder();
    private final StringBuilder released = new StringBuilder();
    private final Set<String> findings = new LinkedHashSet<>();
    /** Characters of {@link #raw} already decided (released, redacted or not). */
    private int decided;

    private boolean blocked;

    /**
     * @param json     what {@code response_format} asks for, or null
     * @param recorder told of each finding once per check and choice (metrics)
     */
    public OutputTextGuard(
            GuardrailPolicy policy, JsonOutputRequirement json, BiConsumer<GuardrailCheck, GuardrailAction> recorder) {
        this.policy = policy;
        this.json = json;
        this.recorder = recorder;
        this.pii = policy.action(GuardrailCheck.OUTPUT_PII);
        this.terms =
                policy.blockedTerms().isEmpty() ? GuardrailAction.OFF : policy.action(GuardrailCheck.BLOCKED_TERMS);
        this.holdAll = json != null && policy.action(GuardrailCheck.JSON_OUTPUT) == GuardrailAction.BLOCK;
        // Only redact and block change what is sent: flag alone is decided on the whole text at the end.
        boolean changes = changes(pii) || changes(terms);
        this.window = changes
                ? Math.max(PiiDetector.MAX_MATCH_CHARS, policy.blockedTerms().longestTerm()) + LOOKAHEAD
                : 0;
    }

    private static boolean changes(GuardrailAction action) {
        return action == GuardrailAction.REDACT || action == GuardrailAction.BLOCK;
    }

    /** Characters held back from a stream (0 when no check redacts or blocks text as it is produced). */
    public int window() {
        return window;
    }

    /** Whether released text can differ from the generated text (if not, a stream passes through unchanged). */
    public boolean transforms() {
        return window > 0 || holdAll;
    }

    /** The checks that found something in this choice and what they did, e.g. {@code output_pii=redact}. */
    public Set<String> findings() {
        return findings;
    }

    /** The whole text released so far. */
    public String released() {
        return released.toString();
    }

    /** Adds generated text; returns what may be sent now. */
    public Step append(String delta) {
        if (blocked) return new Step("", null, null);
        raw.append(delta);
        if (holdAll) return new Step("", null, null);
        return release(raw.length() - window, false);
    }

    /** The choice is complete: decides and releases the rest, then validates JSON if it was asked for. */
    public Step finish() {
        return finish(false);
    }

    /**
     * The choice is complete; {@code cut}: it ended at its token limit ({@code finish_reason: length}). A cut text is
     * not validated as JSON: constrained decoding made it a prefix of valid output, and, as with OpenAI's JSON modes, a
     * client reading {@code length} knows it may be incomplete.
     */
    public Step finish(boolean cut) {
        if (blocked) return new Step("", null, null);
        Step last = release(raw.length(), true);
        if (last.blocked()) return last;
        flagWholeText();
        if (json == null || cut) return last;
        GuardrailAction action = policy.action(GuardrailCheck.JSON_OUTPUT);
        if (action == GuardrailAction.OFF) return last;
        List<String> problems = json.problems(released.toString());
        if (problems.isEmpty()) return last;
        found(GuardrailCheck.JSON_OUTPUT, action);
        if (action == GuardrailAction.BLOCK) {
            blocked = true;
            released.setLength(0);
            return new Step(
                    "",
                    GuardrailCheck.JSON_OUTPUT,
                    "the output was withheld: " + problems.getFirst() + " (response_format "
                            + json.kind().wireName() + ")");
        }
        return last;
    }

    /** Flagging checks look at the complete text once, so a finding split across stream pieces is not missed. */
    private void flagWholeText() {
        String text = raw.toString();
        if (pii == GuardrailAction.FLAG && !PiiDetector.find(text).isEmpty()) found(GuardrailCheck.OUTPUT_PII, pii);
        if (terms == GuardrailAction.FLAG && !policy.blockedTerms().find(text).isEmpty())
            found(GuardrailCheck.BLOCKED_TERMS, terms);
    }

    private Step release(int until, boolean complete) {
        if (until <= decided) return new Step("", null, null);
        String text = raw.toString();
        List<TextSpan> spans = new ArrayList<>();
        if (changes(pii)) spans.addAll(PiiDetector.find(text));
        if (changes(terms)) spans.addAll(policy.blockedTerms().find(text));
        spans = Redaction.disjoint(spans);
        int end = until;
        List<TextSpan> decidedNow = new ArrayList<>();
        for (TextSpan s : spans) {
            if (s.start() < decided || s.start() >= end) continue;
            // A span that starts before the cut is final (bounded length); take all of it.
            if (s.end() > end) end = s.end();
            decidedNow.add(s);
        }
        List<TextSpan> redacted = new ArrayList<>();
        for (TextSpan s : decidedNow) {
            GuardrailCheck check =
                    s.kind().equals(BlockedTermMatcher.KIND) ? GuardrailCheck.BLOCKED_TERMS : GuardrailCheck.OUTPUT_PII;
            GuardrailAction action = check == GuardrailCheck.BLOCKED_TERMS ? terms : pii;
            found(check, action);
            if (action == GuardrailAction.BLOCK) {
                blocked = true;
                return new Step(
                        "",
                        check,
                        "the output was withheld: it contains "
                                + (check == GuardrailCheck.BLOCKED_TERMS
                                        ? "a blocked term"
                                        : "personal data (" + s.kind() + ")"));
            }
            if (action == GuardrailAction.REDACT)
                redacted.add(new TextSpan(s.kind(), s.start() - decided, s.end() - decided, s.replacement()));
        }
        String out = Redaction.apply(text.substring(decided, end), redacted);
        decided = end;
        released.append(out);
        return new Step(out, null, null);
    }

    private void found(GuardrailCheck check, GuardrailAction action) {
        if (findings.add(check.wireName() + "=" + action.wireName())) recorder.accept(check, action);
    }
}
