-- The OpenAI Batch API: uploaded files (their lines), batches and their progress.
-- One script for H2 and PostgreSQL alike (the portable subset of V1-V7).
-- JBeret's own job repository tables (JOB_INSTANCE, JOB_EXECUTION, STEP_EXECUTION, ...) are created by JBeret
-- itself in the same database (server-config profiles/datasource-*.cli); these tables only hold Anvil's side.

-- A file: an uploaded batch input (purpose 'batch') or a batch's output or error file. The owner is the API key that
-- uploaded it or whose batch made it; an anonymous caller's files have no key (owner_key_id NULL) and are shared by
-- anonymous callers, as everything else on a server that does not require keys.
CREATE TABLE batch_file (
    id                   VARCHAR(40)   NOT NULL PRIMARY KEY,
    owner_key_id         BIGINT,
    owner_tenant         VARCHAR(64),
    purpose              VARCHAR(16)   NOT NULL,
    filename             VARCHAR(255)  NOT NULL,
    bytes                BIGINT        NOT NULL,
    line_count           INTEGER       NOT NULL,
    created_at           TIMESTAMP(6) WITH TIME ZONE NOT NULL,
    CONSTRAINT ck_batch_file_purpose CHECK (purpose IN ('batch', 'batch_output')),
    CONSTRAINT ck_batch_file_counts CHECK (bytes >= 0 AND line_count >= 0)
);

CREATE INDEX ix_batch_file_owner ON batch_file (owner_key_id, created_at);

-- A file's lines, in order (line_index from 0). Output and error files hold a line at the index of the input line
-- it answers, so a line's result is written once: the primary key refuses a second result for the same input line.
CREATE TABLE batch_file_line (
    file_id              VARCHAR(40)   NOT NULL,
    line_index           INTEGER       NOT NULL,
    content              VARCHAR(1000000) NOT NULL,
    CONSTRAINT pk_batch_file_line PRIMARY KEY (file_id, line_index)
);

CREATE TABLE batch_job (
    id                   VARCHAR(40)   NOT NULL PRIMARY KEY,
    owner_key_id         BIGINT,
    owner_tenant         VARCHAR(64),
    endpoint             VARCHAR(32)   NOT NULL,
    -- No foreign key: an input file may be deleted while its batch is kept (a batch still running then fails).
    input_file_id        VARCHAR(40)   NOT NULL,
    completion_window    VARCHAR(8)    NOT NULL,
    status               VARCHAR(16)   NOT NULL,
    -- The client's metadata object as JSON text (at most 16 pairs, as OpenAI allows).
    metadata             VARCHAR(4000),
    -- Reserved at creation; the file rows exist once the batch is finalized.
    output_file_id       VARCHAR(40)   NOT NULL,
    error_file_id        VARCHAR(40)   NOT NULL,
    total_count          INTEGER       NOT NULL,
    completed_count      INTEGER       NOT NULL,
    failed_count         INTEGER       NOT NULL,
    -- Lines sent through the serving pipeline, restarts included (a line whose result was stored is never sent again).
    line_executions      BIGINT        NOT NULL,
    -- The latest Jakarta Batch (JBeret) execution of this batch's job, restarted after a server restart.
    job_execution_id     BIGINT,
    error_message        VARCHAR(2000),
    cancel_requested     BOOLEAN       NOT NULL,
    created_at           TIMESTAMP(6) WITH TIME ZONE NOT NULL,
    expires_at           TIMESTAMP(6) WITH TIME ZONE NOT NULL,
    in_progress_at       TIMESTAMP(6) WITH TIME ZONE,
    finalizing_at        TIMESTAMP(6) WITH TIME ZONE,
    completed_at         TIMESTAMP(6) WITH TIME ZONE,
    failed_at            TIMESTAMP(6) WITH TIME ZONE,
    expired_at           TIMESTAMP(6) WITH TIME ZONE,
    cancelling_at        TIMESTAMP(6) WITH TIME ZONE,
    cancelled_at         TIMESTAMP(6) WITH TIME ZONE,
    CONSTRAINT ck_batch_job_status CHECK (status IN ('validating', 'failed', 'in_progress', 'finalizing',
        'completed', 'expired', 'cancelling', 'cancelled')),
    CONSTRAINT ck_batch_job_endpoint CHECK (endpoint IN ('/v1/chat/completions', '/v1/completions', '/v1/embeddings')),
    CONSTRAINT ck_batch_job_counts CHECK (total_count >= 0 AND completed_count >= 0 AND failed_count >= 0
        AND completed_count + failed_count <= total_count AND line_executions >= 0)
);

CREATE INDEX ix_batch_job_owner ON batch_job (owner_key_id, created_at);
CREATE INDEX ix_batch_job_status ON batch_job (status);
