DROP TABLE IF EXISTS job_chunks;
DROP TABLE IF EXISTS job_counter_shards;
DROP TABLE IF EXISTS election_jobs;
