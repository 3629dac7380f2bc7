DROP TABLE amqp_outbox;
