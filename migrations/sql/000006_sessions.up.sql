-- Browser sessions (api/session.go). A row is keyed by the SHA-256 of the
-- session id the browser holds in its cookie, so that the table alone lets
-- no one act as a signed-in user. It holds the identity the bearer token
-- gave at sign-in and the session's CSRF token. A session ends at
-- expires_at (its absolute lifetime) or when unused for the idle timeout,
-- counted from last_seen_at; expired rows are deleted at the next sign-in.
CREATE TABLE tallyq_sessions (
	id_hash bytea PRIMARY KEY CHECK (octet_length(id_hash) = 32),
	subject text NOT NULL,
	role text NOT NULL,
	election_id bigint,
	guardian_id text NOT NULL DEFAULT '',
	csrf_token text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	last_seen_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL
);
CREATE INDEX tallyq_sessions_expires_idx ON tallyq_sessions (expires_at);
