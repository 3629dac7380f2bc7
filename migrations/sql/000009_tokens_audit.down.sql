DROP TABLE tallyq_audit_log;
ALTER TABLE tallyq_sessions DROP COLUMN token_id;
DROP TABLE tallyq_tokens;
