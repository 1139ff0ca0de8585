package dev.anvil.api.gateway;

import dev.anvil.api.ApiErrors;
import dev.anvil.api.ApiException;
import dev.anvil.gateway.AuditEntry;
import dev.anvil.gateway.GatewayGuard;
import dev.anvil.gateway.GatewayLedger;
import dev.anvil.gateway.KeyGrant;
import dev.anvil.gateway.UsageEntry;
import dev.anvil.serving.GenerationResult;
import dev.anvil.serving.ServedModel;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.RequestScoped;
import jakarta.inject.Inject;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.stream.Collectors;

/**
 * Who is calling {@code /v1} in this request, as {@link ApiKeyFilter} established it (a key's {@link KeyGrant},
 * or anonymous when keys are not required), and the two hooks the generation path calls:
 * {@link #requireModel} (403 when the key may not use the model) and {@link #settleWhenDone} (after the
 * generation: tokens debited, usage row and audit row queued).
 */
@RequestScoped
public class CallerContext {

    public static final String ANONYMOUS = "anonymous";
    /** Where finished generations are settled: virtual threads, each mostly waits on the cache or the queue. */
    private static final java.util.concurrent.Executor SETTLERS = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor();

    @Inject
    GatewayGuard guard;

    @EJB
    GatewayLedger ledger;

    /** Set by {@link ApiKeyFilter}; null outside /v1 (or when the filter did not run). */
    private GatewayCall call;

    void begin(GatewayCall call) {
        this.call = call;
    }

    /** The authenticated key, or null for an anonymous caller. */
    public KeyGrant key() {
        return call == null ? null : call.key;
    }

    public String actor() {
        return call == null ? ANONYMOUS : call.actor();
    }

    /**
     * 403 {@code model_not_allowed} unless the caller's key may use {@code requested} ({@code name} or
     * {@code name@version}; the scope is by model name). Anonymous callers may use every model.
     */
    public void requireModel(String requested) {
        KeyGrant key = key();
        if (key == null || requested == null) {
            return;
        }
        int at = requested.indexOf('@');
        String name = at < 0 ? requested : requested.substring(0, at);
        if (!key.allows(name)) {
            throw new ApiException(403, ApiErrors.TYPE_PERMISSION, "the API key " + key.prefix() + "... of tenant '"
                    + key.tenant() + "' may not use model '" + name + "' (allowed: " + String.join(", ", key.allowedModels())
                    + "); ask an administrator for a key scoped to it", "model", "model_not_allowed");
        }
    }

    /**
     * When every generation of the request has finished: debits its tokens from the key's tokens/minute bucket and
     * the tenant's budget, and queues the usage and audit rows (see {@link GatewayCall#settleWhenDone} for where).
     */
    public void settleWhenDone(String requestId, ServedModel model, int promptTokens,
                               CompletableFuture<List<GenerationResult>> results) {
        if (call == null) {
            return; // not a /v1 request (nothing to settle)
        }
        KeyGrant caller = call.key;
        Instant at = call.startedAt;
        long started = call.startedNanos;
        String path = call.endpoint;
        String prompt = caller != null && caller.auditText() ? call.requestText : null;
        String actor = call.actor();
        // Off the batching thread that completes the results (settling reads and writes the limits cache), or
        // before the response of a plain answer is written (ApiKeyFilter), whichever comes first.
        call.settleWhenDone(results, (done, error) -> {
            int completionTokens = 0;
            String outcome = "ok";
            String text = null;
            if (error == null) {
                completionTokens = done.stream().mapToInt(r -> r.usage().completionTokens()).sum();
                if (prompt != null) {
                    text = done.stream().flatMap(r -> r.choices().stream()).map(GenerationResult.Choice::text)
                            .collect(Collectors.joining("\n"));
                }
            } else {
                Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
                outcome = cause instanceof CancellationException ? "cancelled" : "error";
            }
            long latencyMs = (System.nanoTime() - started) / 1_000_000;
            guard.settle(caller, new UsageEntry(at, requestId, caller == null ? null : caller.tenant(),
                    caller == null ? null : caller.keyId(), caller == null ? null : caller.prefix(), model.name(),
                    model.version(), path, promptTokens, completionTokens,
                    guard.cost(model.name(), promptTokens, completionTokens), latencyMs, outcome));
            ledger.audit(new AuditEntry(at, actor, caller == null ? null : caller.tenant(), "v1.request", "POST " + path,
                    error == null ? 200 : null, "request=" + requestId + " model=" + model.ref() + " prompt_tokens=" + promptTokens
                    + " completion_tokens=" + completionTokens + " outcome=" + outcome + " latency_ms=" + latencyMs,
                    prompt, text));
        }, SETTLERS);
    }
}
