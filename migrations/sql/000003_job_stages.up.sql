-- Staged jobs: a job's chunks run in stages, each released (enqueued) only
-- when every chunk of the stages before it is done, so one job and one
-- progress bar can cover work that must happen in order (compensation, then
-- combine). stage_ends holds each stage's end chunk number; released_chunks
-- is how many chunks have been enqueued so far (total_chunks for a job of
-- one stage).
ALTER TABLE election_jobs
    ADD COLUMN stage_ends integer[] NOT NULL DEFAULT '{}',
    ADD COLUMN released_chunks integer;
UPDATE election_jobs SET released_chunks = total_chunks;
ALTER TABLE election_jobs ALTER COLUMN released_chunks SET NOT NULL;
