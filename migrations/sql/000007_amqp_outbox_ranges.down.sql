DROP VIEW queue_awaiting_delivery;
CREATE SEQUENCE amqp_outbox_rows_seq;
CREATE TABLE amqp_outbox_rows (
	job_id uuid NOT NULL,
	chunk int NOT NULL,
	operation text NOT NULL,
	seq bigint NOT NULL DEFAULT nextval('amqp_outbox_rows_seq'),
	created_at timestamptz NOT NULL DEFAULT now(),
	published_at timestamptz,
	PRIMARY KEY (job_id, chunk)
);
ALTER SEQUENCE amqp_outbox_rows_seq OWNED BY amqp_outbox_rows.seq;
-- A chunk in several ranges keeps the latest range's state.
INSERT INTO amqp_outbox_rows (job_id, chunk, operation, created_at, published_at)
SELECT DISTINCT ON (o.job_id, c.chunk) o.job_id, c.chunk, o.operation, o.created_at,
	CASE WHEN c.chunk < o.next_chunk THEN coalesce(o.published_at, now()) END
FROM amqp_outbox o CROSS JOIN LATERAL generate_series(o.first_chunk, o.end_chunk - 1) AS c(chunk)
ORDER BY o.job_id, c.chunk, o.seq DESC;
DROP TABLE amqp_outbox;
ALTER TABLE amqp_outbox_rows RENAME TO amqp_outbox;
ALTER SEQUENCE amqp_outbox_rows_seq RENAME TO amqp_outbox_seq;
CREATE INDEX amqp_outbox_unpublished_idx ON amqp_outbox (job_id, chunk) WHERE published_at IS NULL;
CREATE INDEX amqp_outbox_published_idx ON amqp_outbox (published_at) WHERE published_at IS NOT NULL;
