-- What a tally that does not verify reads of a ballot: record.EncodeTallyForm,
-- the compact encoding without proofs, nonces and extended data, about a
-- third of data's size, written with it from the same checked ballot. NULL
-- for ballots stored before this column: the tally then reads data.
ALTER TABLE ballots ADD COLUMN tally_form bytea;
ALTER TABLE ballots ALTER COLUMN tally_form SET STORAGE EXTERNAL; -- already dense, as data is
