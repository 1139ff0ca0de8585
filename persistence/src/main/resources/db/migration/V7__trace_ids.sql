-- The OpenTelemetry trace of the request a usage or audit row records (issue #19, tracing): 32 hex digits, NULL when
-- tracing is off or the row is not a request's. One script for H2 and PostgreSQL.
ALTER TABLE gateway_usage ADD COLUMN trace_id VARCHAR(32);
ALTER TABLE gateway_audit ADD COLUMN trace_id VARCHAR(32);
