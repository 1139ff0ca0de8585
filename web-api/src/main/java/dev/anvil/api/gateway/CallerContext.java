package dev.anvil.api.gateway;

import dev.anvil.api.ApiErrors;
import dev.anvil.api.ApiException;
import dev.anvil.gateway.AuditEntry;
import dev.anvil.gateway.GatewayGuard;
import dev.anvil.gateway.GatewayLedger;
import dev.anvil.gateway.KeyGrant;
import dev.anvil.gateway.Recipient;
import dev.anvil.gateway.UsageEntry;
import dev.anvil.gateway.UsageReport;
import dev.anvil.security.Roles;
import dev.anvil.serving.GenerationResult;
import dev.anvil.serving.ServedModel;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.RequestScoped;
import jakarta.inject.Inject;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.ws.rs.WebApplicationException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.stream.Collectors;

/**
 * Who is calling {@code /v1} in this request, as {@link ApiKeyFilter} established it (a key's {@link KeyGrant},
 * or anonymous when keys are not required), and the hooks the generation path calls: {@link #requireModel} (403
 * when the key may not use the model), {@link #requireVersionPin} (403 when the caller may not pin a version its
 * name does not serve), {@link #admitGeneration} (the key's concurrent-requests slot and the reservation of what
 * the generation may use: 429 when refused), {@link #settleWhenDone} (after the generation: the reservation
 * settled to what was used, usage row and audit row queued) and {@link #abandonGeneration} (a generation that never
 * ran gives everything back). {@code POST /v1/feedback} asks {@link #requireRecipientOf}: only the caller that
 * received a response may rate it.
 */
@RequestScoped
public class CallerContext {

    public static final String ANONYMOUS = "anonymous";
    /** The experiment subject key header ({@code user} in the body takes precedence); also an anonymous caller's identity. */
    public static final String USER_HEADER = "X-Anvil-User";
    /** Where finished generations are settled: virtual threads, each mostly waits on the cache or the queue. */
    private static final java.util.concurrent.Executor SETTLERS =
            java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor();

    @Inject
    GatewayGuard guard;

    @Inject
    dev.anvil.api.tracing.RequestTracing tracing;

    @EJB
    GatewayLedger ledger;

    @EJB
    UsageReport usageReport;

    /** The current HTTP request (a proxy): role of an authenticated user, subject header, peer address. */
    @Inject
    HttpServletRequest http;

    @Inject
    dev.anvil.routing.RouterMetrics routerMetrics;

    /** How a cost-aware router chose the current attempt's model (null: the request named a model). */
    private RoutedAttempt routed;

    /**
     * A router's choice for the usage rows of this request's next settlement.
     *
     * @param baselineModel the router's largest candidate, whose prices the savings are measured against; null on a
     *                      cascade's escalation (all of its cost is extra: the baseline is on the first attempt)
     */
    public record RoutedAttempt(String router, String reason, int attempt, String baselineModel) {}

    /** The router's choice that the next {@link #settleWhenDone} records. */
    public void routedAs(RoutedAttempt attempt) {
        this.routed = attempt;
    }

    /**
     * A router's cascade answers again after a finished first generation: that one is settled now, and the next
     * generation is admitted ({@link #admitGeneration}: 429 when the budget is spent) and settled on its own.
     */
    public void nextAttempt() {
        if (call != null) call.nextAttempt();
    }

    /** Set by {@link ApiKeyFilter}; null outside /v1 (or when the filter did not run). */
    private GatewayCall call;

    void begin(GatewayCall call) {
        this.call = call;
    }

    /** The authenticated key, or null for an anonymous caller. */
    public KeyGrant key() {
        return call == null ? null : call.key;
    }

    /**
     * The scheduling priority of this request's generations: LOW for a batch job's line (live traffic goes first, as
     * for shadow copies), NORMAL otherwise.
     */
    public dev.anvil.engine.SequenceRequest.Priority priority() {
        return call != null && call.batchLine
                ? dev.anvil.engine.SequenceRequest.Priority.LOW
                : dev.anvil.engine.SequenceRequest.Priority.NORMAL;
    }

    public String actor() {
        return call == null ? ANONYMOUS : call.actor();
    }

    /**
     * Whether the request carries the credentials of an admin (HTTP Basic, role {@value Roles#ADMIN}):
     * WildFly authenticates proactively whenever credentials are sent, on /v1 as on /api.
     */
    public boolean isAdmin() {
        try {
            return http != null && http.getUserPrincipal() != null && http.isUserInRole(Roles.ADMIN);
        } catch (RuntimeException e) {
            return false; // no active request (not on a request thread)
        }
    }

    /**
     * The caller as the recipient of a response (see {@link Recipient}): its key's tenant, or for an anonymous caller
     * its subject key ({@code subjectKey}, the body's {@code user}, else the {@value #USER_HEADER} header), else its
     * network address.
     */
    public Recipient recipient(String subjectKey) {
        KeyGrant key = key();
        if (key != null) {
            return Recipient.of(key);
        }
        String subject = subjectKey;
        String address = "unknown";
        try {
            if ((subject == null || subject.isBlank()) && http != null) subject = http.getHeader(USER_HEADER);
            if (http != null && http.getRemoteAddr() != null) address = http.getRemoteAddr();
        } catch (RuntimeException e) {
            // not on a request thread: the subject key alone
        }
        return Recipient.anonymous(subject, address);
    }

    /**
     * 403 {@code version_pin_not_allowed} unless the caller may pin {@code requested} ({@code name@version}): the
     * version its name serves (its PRODUCTION version) anyone may pin; another one (STAGING, NONE, an old version)
     * only a key or tenant with {@code allowVersionPinning}, or an admin. Pinning such a version loads it on demand
     * and may evict another one, and serves unreleased versions: that is an operator's decision. Experiments route
     * to exact versions internally, after this check.
     *
     * @param servesName whether {@code requested} is the version its model name serves now
     */
    public void requireVersionPin(String requested, boolean servesName) {
        if (requested == null || requested.indexOf('@') < 0 || servesName) {
            return;
        }
        KeyGrant key = key();
        if ((key != null && key.allowVersionPinning()) || isAdmin()) {
            return;
        }
        String name = requested.substring(0, requested.indexOf('@'));
        throw new ApiException(
                403,
                ApiErrors.TYPE_PERMISSION,
                "pinning '" + requested + "' is not allowed"
                        + (key == null
                                ? " without an API key"
                                : " for the API key " + key.prefix() + "... of tenant '" + key.tenant() + "'")
                        + ": only the version that '" + name
                        + "' serves may be pinned; other versions need a key with allowVersionPinning"
                        + " (PUT /api/gateway/tenants/{tenant} or a new key) or an admin's credentials. Use model '"
                        + name + "'",
                "model",
                "version_pin_not_allowed");
    }

    /**
     * Admits a generation once its prompts are tokenized: takes one of the key's concurrent-requests slots and
     * reserves what the generation may use, {@code tokens} (prompt + max_tokens per choice), against its
     * tokens/minute bucket and its tenant's budget. A refusal is a 429 (nothing held); otherwise the caller must end
     * with {@link #settleWhenDone} (the generation ran) or {@link #abandonGeneration} (it did not), and give the
     * slot back with the returned {@link Runnable} when the answer is written (on every path; later calls do nothing).
     */
    public Runnable admitGeneration(long tokens) {
        if (call == null) {
            return () -> {};
        }
        KeyGrant key = call.key;
        GatewayGuard.Slot slot = guard.enter(key);
        if (slot == null) {
            throw new WebApplicationException(
                    GatewayErrors.tooManyConcurrent(key, guard.inProgress(key.keyId()), call.admission));
        }
        GatewayGuard.Reservation reservation;
        try {
            reservation = guard.reserve(key, tokens);
        } catch (RuntimeException e) {
            slot.leave();
            throw e;
        }
        if (reservation.refused()) {
            slot.leave();
            throw new WebApplicationException(GatewayErrors.refused(reservation.refusal(), key.tenant()));
        }
        call.admitted(slot, reservation);
        return slot::leave;
    }

    /** A generation admitted by {@link #admitGeneration} that never ran: its reservation and slot are given back. */
    public void abandonGeneration() {
        if (call != null) {
            call.abandon(guard);
        }
    }

    /**
     * For {@code POST /v1/feedback}: 404 {@code response_not_found} when no response {@code responseId} was served
     * (or it is not recorded yet), 403 {@code response_not_yours} when it went to another caller (another tenant, or
     * another anonymous subject). An admin may rate any response id (e.g. outcomes recorded through the admin API).
     */
    public void requireRecipientOf(String responseId, String subjectKey) {
        if (responseId == null || responseId.isBlank() || isAdmin()) {
            return; // a missing id is the entity's 400; an admin rates on behalf of gateways and offline evaluations
        }
        Optional<Recipient> served = usageReport.recipientOf(responseId);
        if (served.isEmpty()) {
            ledger.flush(); // served a moment ago on this node: its usage row may still be queued
            served = usageReport.recipientOf(responseId);
        }
        if (served.isEmpty()) {
            throw ApiException.notFound(
                    "no response '" + responseId + "' was served (a response can be rated once it is"
                            + " answered, by the caller that received it)",
                    "response_id",
                    "response_not_found");
        }
        if (!served.get().mayBeRatedBy(recipient(subjectKey))) {
            throw new ApiException(
                    403,
                    ApiErrors.TYPE_PERMISSION,
                    "response '" + responseId + "' was served to another caller;"
                            + " only its recipient may rate it (the same tenant's API key, or for anonymous callers the same 'user' /"
                            + " " + USER_HEADER + " subject, else the same network address)",
                    "response_id",
                    "response_not_yours");
        }
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
            throw new ApiException(
                    403,
                    ApiErrors.TYPE_PERMISSION,
                    "the API key " + key.prefix() + "... of tenant '"
                            + key.tenant() + "' may not use model '" + name + "' (allowed: "
                            + String.join(", ", key.allowedModels())
                            + "); ask an administrator for a key scoped to it",
                    "model",
                    "model_not_allowed");
        }
    }

    /**
     * When every generation of the request has finished: debits its tokens from the key's tokens/minute bucket and
     * the tenant's budget, and queues the usage and audit rows (see {@link GatewayCall#settleWhenDone} for where).
     */
    public void settleWhenDone(
            String requestId,
            ServedModel model,
            int promptTokens,
            CompletableFuture<List<GenerationResult>> results,
            String subjectKey) {
        if (call == null) {
            return; // not a /v1 request (nothing to settle)
        }
        KeyGrant caller = call.key;
        GatewayGuard.Reservation reservation = call.reservation();
        String subject = caller == null ? recipient(subjectKey).subjectSha256() : null;
        Instant at = call.startedAt;
        long started = call.startedNanos;
        String path = call.endpoint;
        String prompt = caller != null && caller.auditText() ? call.requestText : null;
        String actor = call.actor();
        String traceId = tracing.traceId(); // on the request's thread, in its trace
        RoutedAttempt route = routed;
        // Off the batching thread that completes the results (settling reads and writes the limits cache), or
        // before the response of a plain answer is written (ApiKeyFilter), whichever comes first.
        call.settleWhenDone(
                results,
                (done, error) -> {
                    int completionTokens = 0;
                    String outcome = "ok";
                    String text = null;
                    if (error == null) {
                        completionTokens = done.stream()
                                .mapToInt(r -> r.usage().completionTokens())
                                .sum();
                        if (prompt != null) {
                            text = done.stream()
                                    .flatMap(r -> r.choices().stream())
                                    .map(GenerationResult.Choice::text)
                                    .collect(Collectors.joining("\n"));
                        }
                    } else {
                        Throwable cause = error instanceof CompletionException && error.getCause() != null
                                ? error.getCause()
                                : error;
                        outcome = cause instanceof CancellationException ? "cancelled" : "error";
                    }
                    long latencyMs = (System.nanoTime() - started) / 1_000_000;
                    java.math.BigDecimal cost = guard.cost(model.name(), promptTokens, completionTokens);
                    UsageEntry.Route usageRoute = null;
                    if (route != null) {
                        java.math.BigDecimal baseline = route.baselineModel() == null
                                ? java.math.BigDecimal.ZERO
                                : guard.cost(route.baselineModel(), promptTokens, completionTokens);
                        usageRoute = new UsageEntry.Route(route.router(), route.reason(), route.attempt(), baseline);
                        routerMetrics.saved(route.router(), dev.anvil.routing.CascadeCheck.savings(baseline, cost));
                    }
                    guard.settle(
                            caller,
                            reservation,
                            new UsageEntry(
                                    at,
                                    requestId,
                                    caller == null ? null : caller.tenant(),
                                    caller == null ? null : caller.keyId(),
                                    caller == null ? null : caller.prefix(),
                                    model.name(),
                                    model.version(),
                                    path,
                                    promptTokens,
                                    completionTokens,
                                    cost,
                                    latencyMs,
                                    outcome,
                                    subject,
                                    traceId,
                                    usageRoute));
                    ledger.audit(new AuditEntry(
                            at,
                            actor,
                            caller == null ? null : caller.tenant(),
                            "v1.request",
                            "POST " + path,
                            error == null ? 200 : null,
                            "request=" + requestId + " model=" + model.ref() + " prompt_tokens=" + promptTokens
                                    + " completion_tokens=" + completionTokens + " outcome=" + outcome + " latency_ms="
                                    + latencyMs,
                            prompt,
                            text,
                            traceId));
                },
                SETTLERS);
    }
}
