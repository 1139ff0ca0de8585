package dev.anvil.api.gateway;

import dev.anvil.gateway.GatewayGuard;
import dev.anvil.gateway.KeyGrant;
import dev.anvil.serving.GenerationResult;
import jakarta.ws.rs.container.ContainerRequestContext;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiConsumer;

/**
 * The gateway's state of one {@code /v1} request, made by {@link ApiKeyFilter} and kept as a property of the
 * JAX-RS request: the response filter of an asynchronous request runs on a writer thread, outside the request
 * scope, where only the request's properties are still reachable. {@link CallerContext} exposes it to the
 * generation path while the request scope is active.
 */
final class GatewayCall {

    static final String PROPERTY = GatewayCall.class.getName();

    final KeyGrant key;
    final String endpoint;
    final String requestText;
    final GatewayGuard.Admission admission;
    final Instant startedAt = Instant.now();
    final long startedNanos = System.nanoTime();
    /** Set once a generation was submitted: its completion writes the audit row instead of the response filter. */
    volatile boolean settling;
    /** A line of a batch job (see {@link BatchLineCredential}): its generation runs at LOW priority. */
    volatile boolean batchLine;

    /** The current attempt's settlement: one per request, or one per attempt of a router's cascade. */
    private volatile Attempt attempt = new Attempt();
    /** The admitted generation's concurrent-requests slot and token reservation (null until admitted). */
    private volatile GatewayGuard.Slot slot;

    private volatile GatewayGuard.Reservation reservation;

    /** One generation's settlement: what to run once its results complete, and whether it ran. */
    private static final class Attempt {
        volatile CompletableFuture<List<GenerationResult>> results;
        volatile BiConsumer<List<GenerationResult>, Throwable> settlement;
        final AtomicBoolean settled = new AtomicBoolean();

        void settleOnce(List<GenerationResult> done, Throwable error) {
            if (settled.compareAndSet(false, true)) settlement.accept(done, error);
        }

        void settleFinished() {
            CompletableFuture<List<GenerationResult>> finished = results;
            if (finished == null || settled.get()) return;
            try {
                settleOnce(finished.join(), null);
            } catch (CompletionException | java.util.concurrent.CancellationException e) {
                settleOnce(null, e);
            }
        }
    }

    GatewayCall(KeyGrant key, String endpoint, String requestText, GatewayGuard.Admission admission) {
        this.key = key;
        this.endpoint = endpoint;
        this.requestText = requestText;
        this.admission = admission;
    }

    /**
     * A router's cascade answers again: the finished first generation is settled now (its usage row and tokens), its
     * slot was given back with its answer, and the next generation is admitted and settled on its own.
     */
    void nextAttempt() {
        attempt.settleFinished();
        attempt = new Attempt();
        slot = null;
        reservation = null;
        settling = false;
    }

    /** A generation of this request was admitted: it holds {@code slot} and {@code reservation}. */
    void admitted(GatewayGuard.Slot slot, GatewayGuard.Reservation reservation) {
        this.slot = slot;
        this.reservation = reservation;
    }

    /** What the admitted generation reserved ({@link GatewayGuard.Reservation#NONE} if none was admitted). */
    GatewayGuard.Reservation reservation() {
        GatewayGuard.Reservation r = reservation;
        return r == null ? GatewayGuard.Reservation.NONE : r;
    }

    /**
     * The admitted generation did not run (refused by the model, a failed submission): its slot is given back and,
     * unless a settlement took it over, its reservation refunded. Once only.
     */
    void abandon(GatewayGuard guard) {
        GatewayGuard.Slot s = slot;
        if (s != null) s.leave();
        if (!settling && attempt.settled.compareAndSet(false, true)) {
            guard.refund(key, reservation());
        }
    }

    /**
     * Runs {@code settlement} once when {@code results} completes: on {@code executor} in general, or earlier and
     * synchronously through {@link #settleFinishedBeforeResponse()}.
     */
    void settleWhenDone(
            CompletableFuture<List<GenerationResult>> results,
            BiConsumer<List<GenerationResult>, Throwable> settlement,
            Executor executor) {
        Attempt a = attempt;
        a.settlement = settlement;
        a.results = results;
        this.settling = true;
        results.whenCompleteAsync(a::settleOnce, executor);
    }

    /**
     * For a plain (non-streamed) answer of a finished generation: settles before the response is written, so that
     * the tokens are debited before the client can send its next request. Only called when every generation has
     * ended (the answer is its result), so the wait for {@code results} is for its completion callbacks only.
     */
    void settleFinishedBeforeResponse() {
        attempt.settleFinished();
    }

    String actor() {
        return key == null ? CallerContext.ANONYMOUS : key.actor();
    }

    static GatewayCall of(ContainerRequestContext request) {
        return request.getProperty(PROPERTY) instanceof GatewayCall call ? call : null;
    }
}
