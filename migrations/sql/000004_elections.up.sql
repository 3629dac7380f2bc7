-- Elections and their pipeline: ballots, the encrypted tally, decryption
-- shares, compensated shares, plaintext results and sealed guardian secrets.

CREATE TABLE elections (
    election_id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                text        NOT NULL,
    state               text        NOT NULL DEFAULT 'OPEN'
                        CHECK (state IN ('OPEN', 'TALLYING', 'TALLIED', 'DECRYPTING', 'COMBINING', 'DECRYPTED')),
    -- The group every element of the election is in: 'standard' (4096-bit)
    -- or 'test' (the small test group of generated elections).
    group_name          text        NOT NULL CHECK (group_name IN ('standard', 'test')),
    manifest            jsonb       NOT NULL,
    context             jsonb       NOT NULL,
    constants           jsonb       NOT NULL,
    devices             jsonb       NOT NULL DEFAULT '[]'::jsonb,
    number_of_guardians integer     NOT NULL CHECK (number_of_guardians > 0),
    quorum              integer     NOT NULL CHECK (quorum > 0 AND quorum <= number_of_guardians),
    verify_ballots      boolean     NOT NULL DEFAULT true,
    chunk_size          integer     NOT NULL CHECK (chunk_size > 0),
    -- ballot_count numbers the ballots densely in ingest order, so a tally
    -- chunk is a range of ballot numbers.
    ballot_count        bigint      NOT NULL DEFAULT 0,
    -- The guardians whose shares combine uses, frozen when combine starts.
    available_guardians text[],
    tally_job           uuid,
    combine_job         uuid,
    created_by          text        NOT NULL DEFAULT '',
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- Guardians' public data (the guardian record as published) and how each
-- decrypted: 'server' from a sealed secret, 'offline' from uploaded shares.
CREATE TABLE guardians (
    election_id     bigint      NOT NULL REFERENCES elections ON DELETE CASCADE,
    guardian_id     text        NOT NULL,
    sequence_order  integer     NOT NULL CHECK (sequence_order > 0),
    public_record   jsonb       NOT NULL,
    decryption_mode text        CHECK (decryption_mode IN ('server', 'offline')),
    decryption_job  uuid,
    decrypted_at    timestamptz,
    PRIMARY KEY (election_id, guardian_id),
    UNIQUE (election_id, sequence_order)
);

-- Submitted ballots in eg/record's compact fixed-width encoding.
CREATE TABLE ballots (
    election_id   bigint   NOT NULL REFERENCES elections ON DELETE CASCADE,
    ballot_no     bigint   NOT NULL,
    ballot_id     text     NOT NULL,
    state         smallint NOT NULL CHECK (state IN (1, 2)), -- 1 cast, 2 spoiled
    tracking_code text     NOT NULL,
    -- SHA-256 of data: an identical re-upload is recognised without reading data.
    digest        bytea    NOT NULL,
    data          bytea    NOT NULL,
    PRIMARY KEY (election_id, ballot_no),
    UNIQUE (election_id, ballot_id)
);
ALTER TABLE ballots ALTER COLUMN data SET STORAGE EXTERNAL; -- already dense; compressing it wastes CPU
CREATE INDEX ballots_tracking_idx ON ballots (election_id, tracking_code);

-- Ballots the tally found invalid, with the check that failed; they are
-- left out of the tally.
CREATE TABLE invalid_ballots (
    election_id bigint NOT NULL,
    ballot_no   bigint NOT NULL,
    check_name  text   NOT NULL,
    reason      text   NOT NULL,
    PRIMARY KEY (election_id, ballot_no),
    FOREIGN KEY (election_id, ballot_no) REFERENCES ballots ON DELETE CASCADE
);

-- One tally chunk's product of its cast ballots (per selection, in the
-- manifest's order), multiplied into the election's tally on completion.
CREATE TABLE tally_subtotals (
    election_id bigint  NOT NULL REFERENCES elections ON DELETE CASCADE,
    chunk_no    integer NOT NULL,
    cast_count  integer NOT NULL,
    spoiled     integer NOT NULL,
    invalid     integer NOT NULL,
    data        bytea   NOT NULL,
    PRIMARY KEY (election_id, chunk_no)
);

-- What the guardians decrypt: the selections of the election's one
-- encrypted tally (owner = the tally's object id) and of every valid
-- spoiled ballot (owner = the ballot id). unit groups them into decryption
-- chunks: one per tally contest, one per spoiled ballot.
CREATE TABLE decryption_objects (
    election_id  bigint  NOT NULL REFERENCES elections ON DELETE CASCADE,
    object_no    integer NOT NULL,
    unit         integer NOT NULL,
    owner        text    NOT NULL,
    spoiled      boolean NOT NULL,
    contest_id   text    NOT NULL,
    selection_id text    NOT NULL,
    pad          bytea   NOT NULL,
    data         bytea   NOT NULL,
    PRIMARY KEY (election_id, object_no),
    UNIQUE (election_id, owner, contest_id, selection_id)
);
CREATE INDEX decryption_objects_unit_idx ON decryption_objects (election_id, unit);

-- A valid spoiled ballot's selections, written by its tally chunk and
-- numbered into decryption_objects when the tally completes.
CREATE TABLE spoiled_selections (
    election_id  bigint  NOT NULL REFERENCES elections ON DELETE CASCADE,
    ballot_no    bigint  NOT NULL,
    position     integer NOT NULL,
    ballot_id    text    NOT NULL,
    contest_id   text    NOT NULL,
    selection_id text    NOT NULL,
    pad          bytea   NOT NULL,
    data         bytea   NOT NULL,
    PRIMARY KEY (election_id, ballot_no, position)
);

-- A guardian's share M_i of one object with its proof (record.DecryptionShare).
CREATE TABLE decryption_shares (
    election_id bigint  NOT NULL,
    object_no   integer NOT NULL,
    guardian_id text    NOT NULL,
    share       jsonb   NOT NULL,
    PRIMARY KEY (election_id, object_no, guardian_id),
    FOREIGN KEY (election_id, object_no) REFERENCES decryption_objects ON DELETE CASCADE
);

-- An available guardian's part M_{l,i} of a missing guardian's share, with
-- recovery key and proof (record.CompensatedShare).
CREATE TABLE compensated_shares (
    election_id         bigint  NOT NULL,
    object_no           integer NOT NULL,
    guardian_id         text    NOT NULL,
    missing_guardian_id text    NOT NULL,
    part                jsonb   NOT NULL,
    PRIMARY KEY (election_id, object_no, missing_guardian_id, guardian_id),
    FOREIGN KEY (election_id, object_no) REFERENCES decryption_objects ON DELETE CASCADE
);

-- The decrypted plaintext of one object (record.PlaintextTallySelection,
-- with every share used).
CREATE TABLE plaintext_results (
    election_id bigint  NOT NULL,
    object_no   integer NOT NULL,
    tally       bigint  NOT NULL,
    selection   jsonb   NOT NULL,
    PRIMARY KEY (election_id, object_no),
    FOREIGN KEY (election_id, object_no) REFERENCES decryption_objects ON DELETE CASCADE
);

-- A guardian's s_i and the backups P_l(x_i) it holds, sealed with
-- AES-256-GCM (additional data: election and guardian); erased after combine.
CREATE TABLE guardian_secrets (
    election_id bigint NOT NULL,
    guardian_id text   NOT NULL,
    sealed      bytea  NOT NULL,
    PRIMARY KEY (election_id, guardian_id),
    FOREIGN KEY (election_id, guardian_id) REFERENCES guardians ON DELETE CASCADE
);
