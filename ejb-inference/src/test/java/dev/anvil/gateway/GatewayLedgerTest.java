package dev.anvil.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.persistence.testing.TestDatabases;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.Test;

/** The ledger against a real schema (the Flyway migrations on an in-memory H2). */
class GatewayLedgerTest {

    private static JdbcDataSource database(String name) {
        return TestDatabases.migrated(name);
    }

    private static GatewayLedger ledger(javax.sql.DataSource db) {
        GatewayConfig config = new GatewayConfig();
        config.ledgerBatchSize = 500;
        config.ledgerMaxPending = 1000;
        GatewayLedger ledger = new GatewayLedger();
        ledger.dataSource = db;
        ledger.config = config;
        return ledger;
    }

    private static UsageEntry usage(String requestId, String model) {
        return new UsageEntry(
                Instant.now(),
                requestId,
                "t",
                null,
                null,
                model,
                "1.0.0",
                "/v1/completions",
                3,
                4,
                BigDecimal.ZERO,
                12,
                "ok",
                null,
                TRACE);
    }

    /** A W3C trace id, as the request's span would give it. */
    private static final String TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";

    private static List<String> column(javax.sql.DataSource db, String sql) throws SQLException {
        List<String> values = new ArrayList<>();
        try (Connection c = db.getConnection();
                Statement s = c.createStatement();
                ResultSet r = s.executeQuery(sql)) {
            while (r.next()) values.add(r.getString(1));
        }
        return values;
    }

    @Test
    void aRowTheDatabaseRefusesIsDroppedAloneAndTheOthersAreWritten() throws SQLException {
        JdbcDataSource db = database("ledger-poison");
        GatewayLedger ledger = ledger(db);
        ledger.usage(usage("r-1", "m"));
        ledger.usage(usage("r-2", "m".repeat(500))); // longer than the column: refused whatever the retry
        ledger.usage(usage("r-3", "m"));
        ledger.audit("alice", null, "tenant.create", "tenant/x", null, null);
        ledger.flush();
        assertEquals(List.of("r-1", "r-3"), column(db, "SELECT request_id FROM gateway_usage ORDER BY request_id"));
        assertEquals(List.of(TRACE, TRACE), column(db, "SELECT trace_id FROM gateway_usage"), "rows name their trace");
        assertEquals(List.of("alice"), column(db, "SELECT actor FROM gateway_audit"));
        assertEquals(1, ledger.dropped());
        assertEquals(3, ledger.written());
        assertEquals(0, ledger.pending(), "nothing is left to retry forever");
        ledger.usage(usage("r-4", "m"));
        ledger.flush();
        assertEquals(
                List.of("r-1", "r-3", "r-4"), column(db, "SELECT request_id FROM gateway_usage ORDER BY request_id"));
    }

    @Test
    void textIsStoredWithoutNulCharacters() throws SQLException {
        JdbcDataSource db = database("ledger-nul");
        GatewayLedger ledger = ledger(db);
        ledger.audit(new AuditEntry(
                Instant.now(),
                "key:anv-1234",
                "t",
                "v1.request",
                "POST /v1/completions",
                200,
                null,
                "a\u0000b",
                "c\u0000",
                TRACE));
        ledger.flush();
        assertEquals(List.of(TRACE), column(db, "SELECT trace_id FROM gateway_audit"), "the row names its trace");
        assertEquals(List.of("a\uFFFDb"), column(db, "SELECT request_text FROM gateway_audit"));
        assertEquals(List.of("c\uFFFD"), column(db, "SELECT response_text FROM gateway_audit"));
        assertEquals(0, ledger.dropped());
    }

    @Test
    void rowsWaitWhileTheDatabaseCannotBeReached() throws SQLException {
        JdbcDataSource down = new JdbcDataSource();
        down.setURL("jdbc:h2:mem:ledger-down;IFEXISTS=TRUE");
        down.setUser("sa");
        GatewayLedger ledger = ledger(down);
        ledger.usage(usage("r-1", "m"));
        ledger.audit("alice", null, "tenant.create", "tenant/x", null, null);
        ledger.flush();
        assertEquals(2, ledger.pending(), "kept for the next tick");
        assertEquals(0, ledger.dropped());
        JdbcDataSource up = database("ledger-down");
        ledger.dataSource = up;
        ledger.flush();
        assertEquals(0, ledger.pending());
        assertEquals(List.of("r-1"), column(up, "SELECT request_id FROM gateway_usage"));
    }

    @Test
    void aConnectionFailureIsToldApartFromARefusedRow() {
        assertTrue(GatewayLedger.unreachable(new SQLException("Connection refused", "08001")));
        assertTrue(GatewayLedger.unreachable(new java.sql.SQLTransientConnectionException("pool exhausted")));
        assertTrue(GatewayLedger.unreachable(new SQLException("no state from the pool")));
        assertTrue(GatewayLedger.unreachable(new IllegalStateException("not a database answer")));
        assertTrue(!GatewayLedger.unreachable(new SQLException("value too long", "22001")));
        assertTrue(!GatewayLedger.unreachable(
                new SQLException("invalid byte sequence for encoding \"UTF8\": 0x00", "22021")));
    }
}
