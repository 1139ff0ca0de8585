package dev.anvil.api.openai;

import dev.anvil.guardrails.GuardrailPolicy;
import dev.anvil.guardrails.Guardrails;
import dev.anvil.guardrails.JsonOutputRequirement;
import dev.anvil.guardrails.OutputTextGuard;
import dev.anvil.serving.FinishReason;
import dev.anvil.serving.GenerationResult;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The output guardrails stage of {@link GenerationPipeline}: the output guardrails applied to a submission's text, for both ways of answering.
 *
 * <p>A plain response: each choice's text is checked whole; redacted text replaces it, a block withholds it
 * (empty text, {@code finish_reason: content_filter}); a choice whose text changed loses its logprobs (they would
 * repeat the text token by token). A stream: the choices' deltas pass through one {@link OutputTextGuard} each,
 * which holds back a bounded window when something may be redacted or blocked (see there); a block sends an error
 * event naming the check and {@code finish_reason: content_filter}, and ends the stream.
 */
final class GuardedOutput {

    /** Makes the output guard of one choice ({@link Guardrails#outputGuard}, which counts findings in the metrics). */
    interface Guards {
        OutputTextGuard create(GuardrailPolicy policy, JsonOutputRequirement json);
    }

    private final Guards guards;
    private final RequestGuardrails request;
    /** What was found, input and output, for the {@code X-Anvil-Guardrails} header. */
    private final Set<String> findings;
    /** Whether a choice's text was withheld (plain or streamed). */
    private volatile boolean withheld;

    GuardedOutput(Guards guards, RequestGuardrails request) {
        this.guards = guards;
        this.request = request;
        this.findings = new LinkedHashSet<>(request.inputFindings());
    }

    private OutputTextGuard guard() {
        return guards.create(request.policy(), request.jsonOutput());
    }

    /** Whether streamed text can differ from the generated text (then streamed logprobs cannot be offered). */
    boolean transformsStream() {
        return guard().transforms();
    }

    /** What the guardrails did to this request as drift detection counts it: clean, flagged or withheld. */
    String outcome() {
        if (withheld) return "withheld";
        synchronized (findings) {
            return findings.isEmpty() ? "clean" : "flagged";
        }
    }

    /** The {@code X-Anvil-Guardrails} header value, or null when nothing was found. */
    String header() {
        synchronized (findings) {
            return findings.isEmpty() ? null : String.join(", ", findings);
        }
    }

    List<GenerationResult> apply(List<GenerationResult> results) {
        List<GenerationResult> out = new ArrayList<>(results.size());
        for (GenerationResult r : results) {
            List<GenerationResult.Choice> choices = new ArrayList<>(r.choices().size());
            for (GenerationResult.Choice c : r.choices()) {
                OutputTextGuard g = guard();
                OutputTextGuard.Step first = g.append(c.text());
                OutputTextGuard.Step last = first.blocked() ? first : g.finish(c.finishReason() == FinishReason.LENGTH);
                synchronized (findings) {
                    findings.addAll(g.findings());
                }
                if (last.blocked()) {
                    withheld = true;
                    choices.add(new GenerationResult.Choice(
                            c.index(), "", c.tokens(), FinishReason.CONTENT_FILTER, null, c.meanLogprob()));
                } else {
                    String text = first.text() + last.text();
                    choices.add(
                            text.equals(c.text())
                                    ? c
                                    : new GenerationResult.Choice(
                                            c.index(), text, c.tokens(), c.finishReason(), null, c.meanLogprob()));
                }
            }
            out.add(new GenerationResult(r.requestId(), r.model(), List.copyOf(choices), r.usage()));
        }
        return out;
    }

    /** The submission's events with each choice's text guarded. */
    SseStream.EventSource stream(SseStream.EventSource source) {
        return new SseStream.EventSource() {
            private final Map<Integer, OutputTextGuard> guards = new HashMap<>();
            private final ArrayDeque<Submission.Event> ready = new ArrayDeque<>();

            @Override
            public String id() {
                return source.id();
            }

            @Override
            public int prompts() {
                return source.prompts();
            }

            @Override
            public int promptTokens() {
                return source.promptTokens();
            }

            @Override
            public Submission.Event poll(long timeoutMillis) throws InterruptedException {
                // A delta that released nothing yields no event: keep waiting for one until the writer's timeout.
                long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
                while (ready.isEmpty()) {
                    long left = (deadline - System.nanoTime()) / 1_000_000L;
                    if (left <= 0) break;
                    Submission.Event e = source.poll(left);
                    if (e == null) break;
                    transform(e);
                }
                return ready.poll();
            }

            @Override
            public Submission.Event pollNow() {
                while (ready.isEmpty()) {
                    Submission.Event e = source.pollNow();
                    if (e == null) return null;
                    transform(e);
                }
                return ready.poll();
            }

            @Override
            public void cancel() {
                source.cancel();
            }

            private void transform(Submission.Event e) {
                switch (e) {
                    case Submission.Event.Delta d -> {
                        OutputTextGuard g = guards.computeIfAbsent(d.index(), i -> guard());
                        OutputTextGuard.Step step = g.append(d.text());
                        if (step.blocked()) {
                            filtered(d.index(), step);
                        } else if (!g.transforms()) {
                            ready.add(d);
                        } else if (!step.text().isEmpty()) {
                            ready.add(new Submission.Event.Delta(d.index(), step.text(), null));
                        }
                    }
                    case Submission.Event.Finish f -> {
                        OutputTextGuard g = guards.computeIfAbsent(f.index(), i -> guard());
                        OutputTextGuard.Step step = g.finish(f.reason() == FinishReason.LENGTH);
                        synchronized (findings) {
                            findings.addAll(g.findings());
                        }
                        if (step.blocked()) {
                            filtered(f.index(), step);
                        } else {
                            if (!step.text().isEmpty())
                                ready.add(new Submission.Event.Delta(f.index(), step.text(), null));
                            ready.add(f);
                        }
                    }
                    default -> ready.add(e);
                }
            }

            private void filtered(int index, OutputTextGuard.Step step) {
                withheld = true;
                ready.add(new Submission.Event.Filtered(index, step.blockedBy().wireName(), step.reason()));
            }
        };
    }
}
