-- API tokens (api/tokens.go). Only the SHA-256 of a token is stored: the
-- token itself is shown once, when it is created, so this table alone lets
-- no one call the API. A guardian's token is bound to one election and one
-- of its guardians. Revoking keeps the row (the audit log names it) and
-- ends the browser sessions the token signed in.
CREATE TABLE tallyq_tokens (
	token_id    bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name        text        NOT NULL CHECK (name <> ''),
	role        text        NOT NULL CHECK (role IN ('admin', 'guardian', 'viewer')),
	election_id bigint,
	guardian_id text        NOT NULL DEFAULT '',
	token_hash  bytea       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
	created_by  text        NOT NULL,
	created_at  timestamptz NOT NULL DEFAULT now(),
	revoked_by  text,
	revoked_at  timestamptz,
	FOREIGN KEY (election_id, guardian_id) REFERENCES guardians ON DELETE CASCADE,
	CHECK ((role = 'guardian') = (election_id IS NOT NULL AND guardian_id <> ''))
);

-- A session signed in with a stored token ends when the token is revoked.
ALTER TABLE tallyq_sessions ADD COLUMN token_id bigint REFERENCES tallyq_tokens ON DELETE CASCADE;

-- Who did what, to what, when: job starts, cancels and retries (jobs/audit.go),
-- election imports, share uploads, secret erasure, token creation and
-- revocation. Written in the transaction of the action it records, so an
-- action without its line (or a line without its action) cannot be.
-- No foreign keys: the log outlives what it names.
CREATE TABLE tallyq_audit_log (
	entry_id    bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at          timestamptz NOT NULL DEFAULT now(),
	actor       text        NOT NULL,
	action      text        NOT NULL,
	election_id bigint,
	job_id      uuid,
	guardian_id text        NOT NULL DEFAULT '',
	detail      text        NOT NULL DEFAULT ''
);
CREATE INDEX tallyq_audit_log_election_idx ON tallyq_audit_log (election_id, entry_id);
