DROP INDEX job_chunks_lease_idx;
CREATE INDEX job_chunks_lease_idx ON job_chunks (lease_until) WHERE state = 'running';
DROP INDEX job_chunks_due_idx;
CREATE INDEX job_chunks_due_idx ON job_chunks (not_before) WHERE state = 'pending' AND not_before IS NOT NULL;
