-- The lease and due indexes are keyed by lease_until and not_before alone.
-- With state in their predicates the planner would answer the commit's
-- "state = 'running'" fence through the lease index, scanning every entry
-- that claims left in it since the last vacuum, instead of looking each
-- chunk up by its key.
DROP INDEX job_chunks_lease_idx;
CREATE INDEX job_chunks_lease_idx ON job_chunks (lease_until) WHERE lease_until IS NOT NULL;
DROP INDEX job_chunks_due_idx;
CREATE INDEX job_chunks_due_idx ON job_chunks (not_before) WHERE not_before IS NOT NULL;
