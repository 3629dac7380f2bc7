ALTER TABLE election_jobs DROP COLUMN stage_ends, DROP COLUMN released_chunks;
