package dev.anvil.gateway;

import dev.anvil.security.Roles;
import dev.anvil.service.ServiceException.Kind;
import jakarta.annotation.security.PermitAll;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ejb.Stateless;
import jakarta.persistence.EntityManager;
import jakarta.persistence.PersistenceContext;
import jakarta.persistence.Query;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;

/** Reads of the usage and audit tables: the usage report by tenant/model/day, audit listings, budget seeding. */
@Stateless
@RolesAllowed(Roles.ADMIN)
public class UsageReport {

    static final int MAX_DAYS = 366;
    static final int MAX_AUDIT_ROWS = 1000;

    @PersistenceContext(unitName = "anvil")
    EntityManager em;

    /** One report line: a tenant's use of a model on a UTC day. {@code tenant} is null for anonymous requests. */
    public record Line(
            LocalDate day,
            String tenant,
            String model,
            long requests,
            long promptTokens,
            long completionTokens,
            BigDecimal cost) {}

    /**
     * A router's part of a usage report: the requests it routed, how many a cascade escalated, what they cost (every
     * attempt), what the same tokens would have cost on its largest candidate, and the difference.
     */
    public record RouterLine(
            String router,
            long requests,
            long escalations,
            BigDecimal cost,
            BigDecimal baselineCost,
            BigDecimal savings) {}

    /** An audit row as stored. */
    public record AuditRow(
            long id,
            Instant occurredAt,
            String actor,
            String tenant,
            String action,
            String target,
            Integer status,
            String detail,
            String requestText,
            String responseText,
            String traceId) {}

    /** Usage from {@code from} to {@code to} (UTC days, both included), optionally one tenant and/or model. */
    public List<Line> byTenantModelDay(LocalDate from, LocalDate to, String tenant, String model) {
        if (to.isBefore(from)) {
            throw new GatewayException(
                    Kind.BAD_REQUEST, "'to' (" + to + ") is before 'from' (" + from + ")", "to", "invalid_range");
        }
        if (from.plusDays(MAX_DAYS).isBefore(to)) {
            throw new GatewayException(
                    Kind.BAD_REQUEST, "a report covers at most " + MAX_DAYS + " days", "to", "invalid_range");
        }
        StringBuilder sql = new StringBuilder(
                "SELECT usage_day, tenant, model, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens),"
                        + " SUM(cost) FROM gateway_usage WHERE usage_day >= :fromDay AND usage_day <= :toDay");
        if (tenant != null) sql.append(" AND tenant = :tenant");
        if (model != null) sql.append(" AND model = :model");
        sql.append(" GROUP BY usage_day, tenant, model ORDER BY usage_day, tenant, model");
        Query query = em.createNativeQuery(sql.toString())
                .setParameter("fromDay", java.sql.Date.valueOf(from))
                .setParameter("toDay", java.sql.Date.valueOf(to));
        if (tenant != null) query.setParameter("tenant", tenant);
        if (model != null) query.setParameter("model", model);
        List<Line> lines = new ArrayList<>();
        for (Object row : query.getResultList()) {
            Object[] c = (Object[]) row;
            lines.add(new Line(
                    day(c[0]),
                    (String) c[1],
                    (String) c[2],
                    number(c[3]),
                    number(c[4]),
                    number(c[5]),
                    c[6] == null ? BigDecimal.ZERO : new BigDecimal(c[6].toString())));
        }
        return lines;
    }

    /**
     * What each router saved from {@code from} to {@code to} (UTC days, both included), optionally for one tenant:
     * the rows it routed (attempt 1: one per request; attempt 2: the escalations), their cost and their baseline.
     */
    public List<RouterLine> routerSavings(LocalDate from, LocalDate to, String tenant) {
        StringBuilder sql = new StringBuilder("SELECT router,"
                + " SUM(CASE WHEN route_attempt = 1 THEN 1 ELSE 0 END), SUM(CASE WHEN route_attempt = 2 THEN 1 ELSE 0 END),"
                + " SUM(cost), SUM(baseline_cost) FROM gateway_usage"
                + " WHERE router IS NOT NULL AND usage_day >= :fromDay AND usage_day <= :toDay");
        if (tenant != null) sql.append(" AND tenant = :tenant");
        sql.append(" GROUP BY router ORDER BY router");
        Query query = em.createNativeQuery(sql.toString())
                .setParameter("fromDay", java.sql.Date.valueOf(from))
                .setParameter("toDay", java.sql.Date.valueOf(to));
        if (tenant != null) query.setParameter("tenant", tenant);
        List<RouterLine> lines = new ArrayList<>();
        for (Object row : query.getResultList()) {
            Object[] c = (Object[]) row;
            BigDecimal cost = decimal(c[3]);
            BigDecimal baseline = decimal(c[4]);
            lines.add(new RouterLine(
                    (String) c[0],
                    number(c[1]),
                    number(c[2]),
                    cost,
                    baseline,
                    dev.anvil.routing.CascadeCheck.savings(baseline, cost)));
        }
        return lines;
    }

    private static BigDecimal decimal(Object value) {
        return value == null ? BigDecimal.ZERO : new BigDecimal(value.toString());
    }

    /** Tokens (prompt + completion) the tenant's requests used from {@code fromDay} (UTC) on: the budget check's read, any caller. */
    @PermitAll
    public long tokensUsedSince(String tenant, LocalDate fromDay) {
        Object sum = em.createNativeQuery(
                        "SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) FROM gateway_usage"
                                + " WHERE tenant = ?1 AND usage_day >= ?2")
                .setParameter(1, tenant)
                .setParameter(2, java.sql.Date.valueOf(fromDay))
                .getSingleResult();
        return number(sum);
    }

    /** Who received the response {@code responseId} (its usage row), if the ledger has written one: for /v1/feedback, any caller. */
    @PermitAll
    public java.util.Optional<Recipient> recipientOf(String responseId) {
        List<?> rows = em.createNativeQuery(
                        "SELECT tenant, api_key_id, subject_sha256 FROM gateway_usage WHERE request_id = ?1")
                .setParameter(1, responseId)
                .setMaxResults(1)
                .getResultList();
        if (rows.isEmpty()) {
            return java.util.Optional.empty();
        }
        Object[] c = (Object[]) rows.getFirst();
        return java.util.Optional.of(new Recipient((String) c[0], c[1] == null ? null : number(c[1]), (String) c[2]));
    }

    /** The newest audit rows first, optionally filtered; at most {@value #MAX_AUDIT_ROWS}. */
    public List<AuditRow> audit(String actor, String tenant, String action, int limit) {
        return audit(actor, tenant, action, null, limit);
    }

    /**
     * Like {@link #audit(String, String, String, int)}, older than the row {@code beforeId} when given: the next page
     * of a listing is the rows before the last id of the previous one (stable while new rows arrive).
     */
    public List<AuditRow> audit(String actor, String tenant, String action, Long beforeId, int limit) {
        StringBuilder sql = new StringBuilder("SELECT id, occurred_at, actor, tenant, action, target, status, detail,"
                + " request_text, response_text, trace_id FROM gateway_audit WHERE 1 = 1");
        if (actor != null) sql.append(" AND actor = :actor");
        if (tenant != null) sql.append(" AND tenant = :tenant");
        if (action != null) sql.append(" AND action = :action");
        if (beforeId != null) sql.append(" AND id < :before");
        sql.append(" ORDER BY id DESC");
        Query query = em.createNativeQuery(sql.toString()).setMaxResults(Math.clamp(limit, 1, MAX_AUDIT_ROWS));
        if (actor != null) query.setParameter("actor", actor);
        if (tenant != null) query.setParameter("tenant", tenant);
        if (action != null) query.setParameter("action", action);
        if (beforeId != null) query.setParameter("before", beforeId);
        List<AuditRow> rows = new ArrayList<>();
        for (Object row : query.getResultList()) {
            Object[] c = (Object[]) row;
            rows.add(new AuditRow(
                    number(c[0]),
                    instant(c[1]),
                    (String) c[2],
                    (String) c[3],
                    (String) c[4],
                    (String) c[5],
                    c[6] == null ? null : (int) number(c[6]),
                    text(c[7]),
                    text(c[8]),
                    text(c[9]),
                    (String) c[10]));
        }
        return rows;
    }

    private static long number(Object value) {
        return value == null ? 0 : ((Number) value).longValue();
    }

    private static LocalDate day(Object value) {
        if (value instanceof LocalDate d) return d;
        if (value instanceof java.sql.Date d) return d.toLocalDate();
        return LocalDate.parse(value.toString().substring(0, 10));
    }

    private static Instant instant(Object value) {
        if (value instanceof Instant i) return i;
        if (value instanceof OffsetDateTime o) return o.toInstant();
        if (value instanceof java.sql.Timestamp t) return t.toInstant();
        if (value instanceof java.time.ZonedDateTime z) return z.toInstant();
        return OffsetDateTime.parse(value.toString()).toInstant();
    }

    private static String text(Object value) {
        if (value == null) return null;
        if (value instanceof java.sql.Clob clob) {
            try {
                return clob.getSubString(1, (int) clob.length());
            } catch (java.sql.SQLException e) {
                throw new IllegalStateException("cannot read audit text", e);
            }
        }
        return value.toString();
    }
}
