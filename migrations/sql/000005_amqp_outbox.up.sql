-- The RabbitMQ broker's outbox (queue/rabbitmq). A row exists while the
-- message of its chunk may still be needed: the engine's enqueue inserts it
-- in its own transaction, the relay publishes it and sets published_at, and
-- the commit that settles a delivery of it deletes it. seq tells enqueues of
-- one chunk apart, so that a late settle of an earlier delivery cannot
-- delete the row of a later enqueue.
CREATE SEQUENCE amqp_outbox_seq;
CREATE TABLE amqp_outbox (
	job_id uuid NOT NULL,
	chunk int NOT NULL,
	operation text NOT NULL,
	seq bigint NOT NULL DEFAULT nextval('amqp_outbox_seq'),
	created_at timestamptz NOT NULL DEFAULT now(),
	published_at timestamptz,
	PRIMARY KEY (job_id, chunk)
);
ALTER SEQUENCE amqp_outbox_seq OWNED BY amqp_outbox.seq;
-- The relay walks the jobs with unpublished rows and takes a few of each.
CREATE INDEX amqp_outbox_unpublished_idx ON amqp_outbox (job_id, chunk) WHERE published_at IS NULL;
-- In-flight count and the reconciler's republishing.
CREATE INDEX amqp_outbox_published_idx ON amqp_outbox (published_at) WHERE published_at IS NOT NULL;
