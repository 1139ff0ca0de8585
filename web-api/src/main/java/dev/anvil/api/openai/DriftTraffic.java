package dev.anvil.api.openai;

import dev.anvil.drift.DriftMonitor;
import dev.anvil.drift.DriftObservation;
import dev.anvil.serving.FinishReason;
import dev.anvil.serving.GenerationResult;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The web side of drift detection (a stage of {@link GenerationPipeline}, after the submission): once a live
 * generation's answer is written, its features go to {@link DriftMonitor}: prompt and completion tokens, latency and
 * time to first token, the first choice's mean log-probability and finish reason, and what the guardrails did (read
 * only then, when the output guard has seen the whole answer). Requests answered from the cache or by a fallback are
 * not the version's own traffic and are not observed; nor are requests that did not finish (failed, timed out).
 */
@ApplicationScoped
public class DriftTraffic {

    @Inject
    DriftMonitor drift;

    /** What observes one submission when it is answered: run it once the answer is written. */
    final class Observer implements Runnable {
        private final long startedNanos = System.nanoTime();
        private final GuardedOutput output;
        private final String promptText;
        private final AtomicReference<Submission> submission = new AtomicReference<>();

        Observer(GuardedOutput output, String promptText) {
            this.output = output;
            this.promptText = promptText;
        }

        /** The submission this observer is for (known only once it is made, after what it holds). */
        void watch(Submission s) {
            submission.set(s);
        }

        @Override
        public void run() {
            Submission s = submission.get();
            if (s == null) return;
            List<GenerationResult> results = s.results().getNow(null);
            if (results == null || results.isEmpty()) return; // not finished: failed, timed out or cut
            GenerationResult.Choice first = results.getFirst().choices().getFirst();
            long firstToken = s.firstTokenNanos();
            String guardrail = output == null ? "clean" : output.outcome();
            FinishReason reason = "withheld".equals(guardrail) ? FinishReason.CONTENT_FILTER : first.finishReason();
            drift.observe(
                    s.model,
                    s.id,
                    new DriftObservation(
                            s.totalPromptTokens(),
                            first.tokens().length,
                            (System.nanoTime() - startedNanos) / 1_000_000,
                            firstToken == 0 ? null : Math.max(0, (firstToken - startedNanos) / 1_000_000),
                            first.meanLogprob(),
                            reason.openAiName(),
                            guardrail));
            drift.observePrompt(s.model, promptText);
        }
    }

    /** An observer of a request whose input texts (as the guardrails passed them) are {@code promptText}. */
    Observer observer(GuardedOutput output, String promptText) {
        return new Observer(output, promptText);
    }
}
