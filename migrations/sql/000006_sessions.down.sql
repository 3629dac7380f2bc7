DROP TABLE tallyq_sessions;
