package dev.anvil.api.gateway;

import dev.anvil.gateway.GatewayGuard;
import dev.anvil.gateway.KeyGrant;
import jakarta.ws.rs.container.ContainerRequestContext;
import java.time.Instant;

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

    GatewayCall(KeyGrant key, String endpoint, String requestText, GatewayGuard.Admission admission) {
        this.key = key;
        this.endpoint = endpoint;
        this.requestText = requestText;
        this.admission = admission;
    }

    String actor() {
        return key == null ? CallerContext.ANONYMOUS : key.actor();
    }

    static GatewayCall of(ContainerRequestContext request) {
        return request.getProperty(PROPERTY) instanceof GatewayCall call ? call : null;
    }
}
