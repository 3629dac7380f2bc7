-- The job engine: jobs, their chunks and sharded progress counters.

CREATE TABLE election_jobs (
    job_id           uuid        PRIMARY KEY,
    election_id      bigint,
    operation_type   text        NOT NULL,
    status           text        NOT NULL DEFAULT 'QUEUED'
                     CHECK (status IN ('QUEUED', 'IN_PROGRESS', 'COMPLETED', 'FAILED', 'CANCELLED')),
    total_chunks     integer     NOT NULL CHECK (total_chunks >= 0),
    -- Folded counts; chunks settled since the last fold live in job_counter_shards.
    processed_chunks integer     NOT NULL DEFAULT 0,
    failed_chunks    integer     NOT NULL DEFAULT 0,
    max_attempts     integer     NOT NULL CHECK (max_attempts > 0),
    error_message    text,
    created_by       text        NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    completed_at     timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    metadata         jsonb       NOT NULL DEFAULT '{}'::jsonb
);

CREATE INDEX election_jobs_election_idx ON election_jobs (election_id, created_at DESC);
CREATE INDEX election_jobs_created_idx ON election_jobs (created_at DESC, job_id);
CREATE INDEX election_jobs_active_idx ON election_jobs (created_at) WHERE status IN ('QUEUED', 'IN_PROGRESS');

-- Every commit adds to one of a job's shards instead of one shared row, so
-- concurrent commits of one job do not queue on a single row lock. A job's
-- count is its folded column plus the sum of its shards, read in one statement.
CREATE TABLE job_counter_shards (
    job_id    uuid     NOT NULL REFERENCES election_jobs (job_id) ON DELETE CASCADE,
    shard     smallint NOT NULL,
    processed integer  NOT NULL DEFAULT 0,
    failed    integer  NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, shard)
);

-- No foreign key to election_jobs: a per-row trigger would slow the COPY of a
-- million chunks; the engine deletes chunks with their job.
CREATE TABLE job_chunks (
    job_id      uuid        NOT NULL,
    chunk_no    integer     NOT NULL CHECK (chunk_no >= 0),
    state       text        NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'running', 'done', 'failed', 'cancelled')),
    attempts    integer     NOT NULL DEFAULT 0,
    -- The fencing token of the attempt that may commit; issued by Postgres at claim.
    claim       uuid,
    lease_until timestamptz,
    -- A pending chunk with not_before set waits to be (re-)enqueued at that time.
    not_before  timestamptz,
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,
    finished_at timestamptz,
    PRIMARY KEY (job_id, chunk_no)
);

CREATE INDEX job_chunks_due_idx ON job_chunks (not_before) WHERE state = 'pending' AND not_before IS NOT NULL;
CREATE INDEX job_chunks_lease_idx ON job_chunks (lease_until) WHERE state = 'running';
CREATE INDEX job_chunks_failed_idx ON job_chunks (job_id, chunk_no) WHERE state = 'failed';
