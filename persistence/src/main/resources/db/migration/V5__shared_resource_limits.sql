-- Limits on shared resources (issue #12, "Abuse of shared resources"). One script for H2 and PostgreSQL.

-- Concurrent requests per API key (NULL = the tenant's, then the server default) and whether a key may pin
-- model versions that are not the one its name serves (NULL on a key = the tenant's setting).
ALTER TABLE gateway_tenant ADD COLUMN max_concurrent_requests INTEGER;
ALTER TABLE gateway_tenant ADD COLUMN allow_version_pinning BOOLEAN DEFAULT FALSE NOT NULL;
ALTER TABLE gateway_tenant ADD CONSTRAINT ck_gateway_tenant_concurrency
    CHECK (max_concurrent_requests IS NULL OR max_concurrent_requests >= 0);
ALTER TABLE gateway_api_key ADD COLUMN max_concurrent_requests INTEGER;
ALTER TABLE gateway_api_key ADD COLUMN allow_version_pinning BOOLEAN;
ALTER TABLE gateway_api_key ADD CONSTRAINT ck_gateway_api_key_concurrency
    CHECK (max_concurrent_requests IS NULL OR max_concurrent_requests >= 0);

-- Who received a response: the usage row of a generation already names its tenant and key; an anonymous caller
-- (keys not required) is recorded as the SHA-256 of its subject (the request's user / X-Anvil-User, else its
-- network address), so that only the recipient may rate the response (POST /v1/feedback looks it up by id).
ALTER TABLE gateway_usage ADD COLUMN subject_sha256 VARCHAR(64);
CREATE INDEX ix_gateway_usage_request ON gateway_usage (request_id);

-- One rating per response: a later rating replaces the earlier one. Earlier duplicates (results already used
-- only the latest) are removed before the rule is added.
DELETE FROM response_feedback WHERE EXISTS (
    SELECT 1 FROM response_feedback newer
    WHERE newer.response_id = response_feedback.response_id AND newer.id > response_feedback.id);
DROP INDEX ix_response_feedback_response;
ALTER TABLE response_feedback ADD CONSTRAINT uq_response_feedback_response UNIQUE (response_id);
