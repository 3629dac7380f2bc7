ALTER TABLE ballots DROP COLUMN tally_form;
