-- The RabbitMQ broker's outbox holds ranges of chunks instead of one row per
-- chunk (queue/rabbitmq). A row is chunks first_chunk to end_chunk - 1 of a
-- job, enqueued in one transaction; the relay publishes them in order and
-- moves next_chunk past the ones the node confirmed; published_at is set
-- when the last one is. Settling a delivery writes nothing here: a range is
-- deleted once none of its chunks awaits a delivery (queue_awaiting_delivery
-- below), and a range published long ago whose chunks still await one is
-- replaced by ranges of those chunks, which are published again.
CREATE TABLE amqp_outbox_ranges (
	seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	job_id uuid NOT NULL,
	operation text NOT NULL,
	first_chunk int NOT NULL,
	end_chunk int NOT NULL,
	next_chunk int NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	published_at timestamptz,
	CHECK (0 <= first_chunk AND first_chunk < end_chunk
		AND first_chunk <= next_chunk AND next_chunk <= end_chunk)
);
INSERT INTO amqp_outbox_ranges (job_id, operation, first_chunk, end_chunk, next_chunk, created_at, published_at)
SELECT job_id, operation, chunk, chunk + 1, CASE WHEN published_at IS NULL THEN chunk ELSE chunk + 1 END,
	created_at, published_at
FROM amqp_outbox ORDER BY seq;
DROP TABLE amqp_outbox;
ALTER TABLE amqp_outbox_ranges RENAME TO amqp_outbox;
-- The relay walks the jobs with chunks to publish and takes ranges of each.
CREATE INDEX amqp_outbox_unpublished_idx ON amqp_outbox (job_id, seq) WHERE next_chunk < end_chunk;
-- The reconciler's ranges published long ago.
CREATE INDEX amqp_outbox_published_idx ON amqp_outbox (published_at) WHERE published_at IS NOT NULL;

-- The chunks that may still need a delivery of their message: those of
-- active jobs that are running, or pending and not waiting for a retry
-- time (the engine enqueues those again when it comes). Brokers that keep a
-- record of their messages read it to know which they may forget and which
-- to publish again; it names no election and no count.
CREATE VIEW queue_awaiting_delivery AS
SELECT c.job_id, c.chunk_no AS chunk
FROM job_chunks c JOIN election_jobs j USING (job_id)
WHERE j.status IN ('QUEUED', 'IN_PROGRESS')
	AND (c.state = 'running' OR (c.state = 'pending' AND c.not_before IS NULL));
