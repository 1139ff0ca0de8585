package dev.anvil.api.gateway;

import dev.anvil.api.ApiErrors;
import dev.anvil.api.openai.OpenAiConfig;
import dev.anvil.gateway.AuditEntry;
import dev.anvil.gateway.GatewayConfig;
import dev.anvil.gateway.GatewayGuard;
import dev.anvil.gateway.GatewayLedger;
import dev.anvil.gateway.KeyAuthenticator;
import dev.anvil.gateway.KeyGrant;
import dev.anvil.gateway.KeySecrets;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerResponseContext;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import org.eclipse.microprofile.metrics.Metadata;
import org.eclipse.microprofile.metrics.MetricRegistry;
import org.eclipse.microprofile.metrics.MetricUnits;

/**
 * The gateway in front of the OpenAI-compatible API: authenticates the API key ({@code Authorization: Bearer
 * anv-...}), applies the key's rate limits and its tenant's budget, and audits the request. It runs for the resource
 * methods declared {@link dev.anvil.api.security.ApiKeyAccess}, bound to each by
 * {@link dev.anvil.api.security.AccessControlFeature} (never chosen by the request path). When keys are not required
 * ({@link GatewayConfig#requireApiKey()}: only while the server listens on loopback, or where an operator turned them
 * off) a request without an Anvil key is served anonymously (OpenAI clients insist on sending some key, so a token
 * that is not an Anvil key counts as none), while a presented {@code anv-} key must still be valid; otherwise every
 * call needs one.
 */
@ApplicationScoped
public class ApiKeyFilter {

    private static final String BEARER = "Bearer ";
    private static final String CHALLENGE = "Bearer realm=\"anvil\"";
    private static final String APPLIES = ApiKeyFilter.class.getName() + ".applies";
    /** Nanoseconds the request filter took, added to the response filter's time in {@link #OVERHEAD}. */
    private static final String REQUEST_NANOS = ApiKeyFilter.class.getName() + ".nanos";
    /**
     * Request attribute: {@link System#nanoTime()} when the request filter started; with {@link #REQUEST_NANOS}, the
     * gateway's span of the request's trace ({@link #requestFilterSpan}).
     */
    private static final String STARTED_NANOS = ApiKeyFilter.class.getName() + ".started";
    /** The gateway's own time per /v1 request: authentication, limits, budget, audit hand-off (both filters). */
    static final Metadata OVERHEAD = Metadata.builder()
            .withName("anvil.gateway.overhead")
            .withDescription(
                    "Time the gateway adds to a /v1 request: key authentication, rate limits, budget check and audit hand-off")
            .withUnit(MetricUnits.SECONDS)
            .build();

    @Inject
    MetricRegistry metrics;

    @Inject
    GatewayConfig config;

    @Inject
    OpenAiConfig openAiConfig;

    @Inject
    KeyAuthenticator authenticator;

    @Inject
    GatewayGuard guard;

    @Inject
    dev.anvil.api.tracing.RequestTracing tracing;

    @Inject
    CallerContext caller;

    @EJB
    GatewayLedger ledger;

    @Inject
    BatchLineCredential batchLines;

    @EJB
    dev.anvil.batch.BatchStore batches;

    @EJB
    dev.anvil.gateway.GatewayAdmin gatewayAdmin;

    /** Before the resource method {@code endpoint} (its path template) runs: admits the caller or aborts the request. */
    public void admit(ContainerRequestContext request, String endpoint) throws IOException {
        long started = System.nanoTime();
        request.setProperty(APPLIES, Boolean.TRUE);
        request.setProperty(STARTED_NANOS, started);
        try {
            authenticateAndAdmit(request, endpoint);
        } finally {
            request.setProperty(REQUEST_NANOS, System.nanoTime() - started);
        }
    }

    private void authenticateAndAdmit(ContainerRequestContext request, String endpoint) throws IOException {
        String lineToken = request.getHeaderString(BatchLineCredential.TOKEN_HEADER);
        if (lineToken != null || request.getHeaderString(BatchLineCredential.BATCH_HEADER) != null) {
            admitBatchLine(request, endpoint, lineToken);
            return;
        }
        String token = bearer(request.getHeaderString(HttpHeaders.AUTHORIZATION));
        KeyGrant key = null;
        if (token != null && (token.startsWith(KeySecrets.PREFIX) || config.requireApiKey())) {
            Optional<KeyGrant> grant = authenticator.authenticate(token);
            if (grant.isEmpty()) {
                begin(request, new GatewayCall(null, endpoint, null, null));
                request.abortWith(ApiErrors.unauthorized(
                        "incorrect API key provided: "
                                + (token.length() > 8 ? token.substring(0, 8) + "..." : "(too short)")
                                + "; keys are created with POST /api/gateway/tenants/{tenant}/keys, and a revoked key stays invalid",
                        "invalid_api_key",
                        CHALLENGE));
                return;
            }
            key = grant.get();
        } else if (config.requireApiKey()) {
            begin(request, new GatewayCall(null, endpoint, null, null));
            request.abortWith(ApiErrors.unauthorized(
                    "you didn't provide an API key; send it as 'Authorization: Bearer anv-...'"
                            + " (this server requires one: "
                            + config.keyRequirement().explanation() + ")",
                    "missing_api_key",
                    CHALLENGE));
            return;
        }
        if (key == null) {
            begin(request, new GatewayCall(null, endpoint, null, null));
            return;
        }
        GatewayGuard.Admission admission = guard.admit(key);
        begin(request, new GatewayCall(key, endpoint, key.auditText() ? bufferedText(request) : null, admission));
        if (!admission.admitted()) {
            request.abortWith(GatewayErrors.refused(admission, key.tenant()));
        }
    }

    /**
     * A line of a batch job, sent by the job through this server's own endpoint: admitted as the key that created the
     * batch (anonymous for a batch created without one), limits and budget included, and marked to run at LOW
     * priority. Without the server's own {@link BatchLineCredential} (or naming no batch, or a batch whose key was
     * revoked since) it is a 401.
     */
    private void admitBatchLine(ContainerRequestContext request, String endpoint, String lineToken) throws IOException {
        String batchId = request.getHeaderString(BatchLineCredential.BATCH_HEADER);
        var batch = batchLines.matches(lineToken)
                ? batches.batch(batchId)
                : java.util.Optional.<dev.anvil.batch.domain.Batch>empty();
        KeyGrant key = batch.isEmpty() || batch.get().ownerKeyId() == null
                ? null
                : gatewayAdmin.grantForKeyId(batch.get().ownerKeyId());
        if (batch.isEmpty() || (batch.get().ownerKeyId() != null && key == null)) {
            begin(request, new GatewayCall(null, endpoint, null, null));
            request.abortWith(ApiErrors.unauthorized(
                    batch.isEmpty()
                            ? "the " + BatchLineCredential.TOKEN_HEADER + " and " + BatchLineCredential.BATCH_HEADER
                                    + " headers are for the server's own batch jobs"
                            : "the API key that created batch " + batchId + " was revoked",
                    "invalid_api_key",
                    CHALLENGE));
            return;
        }
        if (key == null) {
            GatewayCall call = new GatewayCall(null, endpoint, null, null);
            call.batchLine = true;
            begin(request, call);
            return;
        }
        GatewayGuard.Admission admission = guard.admit(key);
        GatewayCall call = new GatewayCall(key, endpoint, key.auditText() ? bufferedText(request) : null, admission);
        call.batchLine = true;
        begin(request, call);
        if (!admission.admitted()) {
            request.abortWith(GatewayErrors.refused(admission, key.tenant()));
        }
    }

    /**
     * When the request filter ran (start and end, {@link System#nanoTime()}), read from the servlet request the
     * properties are kept in; null when it did not run for the request.
     */
    public static long[] requestFilterSpan(jakarta.servlet.http.HttpServletRequest http) {
        if (http == null
                || !(http.getAttribute(STARTED_NANOS) instanceof Long start)
                || !(http.getAttribute(REQUEST_NANOS) instanceof Long took)) {
            return null;
        }
        return new long[] {start, start + took};
    }

    /** After the resource method answered (or {@link #admit} refused): limit headers, settlement or audit row. */
    public void afterResponse(ContainerRequestContext request, ContainerResponseContext response) {
        if (request.getProperty(APPLIES) == null) {
            return;
        }
        long started = System.nanoTime();
        try {
            limitHeadersAndAudit(request, response);
        } finally {
            long requestNanos = request.getProperty(REQUEST_NANOS) instanceof Long n ? n : 0;
            metrics.timer(OVERHEAD).update(Duration.ofNanos(requestNanos + System.nanoTime() - started));
        }
    }

    private void begin(ContainerRequestContext request, GatewayCall call) {
        request.setProperty(GatewayCall.PROPERTY, call);
        caller.begin(call);
    }

    private void limitHeadersAndAudit(ContainerRequestContext request, ContainerResponseContext response) {
        GatewayCall call = GatewayCall.of(request);
        if (call == null) {
            return;
        }
        if (!response.getHeaders().containsKey("x-ratelimit-limit-requests")
                && !response.getHeaders().containsKey("x-ratelimit-limit-tokens")) {
            GatewayErrors.addLimitHeaders((name, value) -> response.getHeaders().add(name, value), call.admission);
        }
        if (call.settling) {
            // A plain answer of finished generations: settle now, before it is written (its tokens count before
            // the client's next request). Streams and timeouts settle when their generations end.
            MediaType type = response.getMediaType();
            if (response.getStatus() == 200
                    && (type == null || !type.isCompatible(MediaType.SERVER_SENT_EVENTS_TYPE))) {
                call.settleFinishedBeforeResponse();
            }
            return; // the settlement writes the audit row, with the tokens
        }
        KeyGrant key = call.key;
        ledger.audit(new AuditEntry(
                call.startedAt,
                call.actor(),
                key == null ? null : key.tenant(),
                "v1.request",
                request.getMethod() + " " + call.endpoint,
                response.getStatus(),
                response.getStatus() >= 400 ? errorCode(response) : null,
                key != null && key.auditText() ? call.requestText : null,
                null,
                tracing.traceId()));
    }

    private static String errorCode(ContainerResponseContext response) {
        Object entity = response.getEntity();
        if (entity instanceof dev.anvil.api.ErrorResponse error && error.error() != null) {
            return "code=" + error.error().code() + " message=" + error.error().message();
        }
        return null;
    }

    static String bearer(String authorization) {
        if (authorization == null
                || authorization.length() <= BEARER.length()
                || !authorization.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
            return null;
        }
        String token = authorization.substring(BEARER.length()).strip();
        return token.isEmpty() ? null : token;
    }

    /** Reads the body for the audit (tenants with audit-text only) and puts it back for the resource. */
    private String bufferedText(ContainerRequestContext request) throws IOException {
        if (!request.hasEntity()) {
            return null;
        }
        byte[] body = request.getEntityStream()
                .readNBytes((int) Math.min(Integer.MAX_VALUE - 1, openAiConfig.maxBodyBytes()) + 1);
        request.setEntityStream(new ByteArrayInputStream(body));
        return new String(body, StandardCharsets.UTF_8);
    }
}
