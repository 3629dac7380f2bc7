package election

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/tallyq/tallyq/eg/record"
)

// InvalidBallot is one entry of an export's invalid_ballots.json.
type InvalidBallot struct {
	BallotID string `json:"ballot_id"`
	Check    string `json:"check"`
	Reason   string `json:"reason"`
}

// Export writes an election's record in the ElectionGuard 0.95 layout:
// constants, context, manifest, guardians, encryption devices, the
// submitted ballots the tally counted or spoiled, and, as far as the
// election has got, encrypted_tally.json, tally.json with every share,
// spoiled_ballots/ and coefficients.json. Ballots the tally found invalid go
// to invalid_ballots/ (reasons in invalid_ballots.json), so that the product
// of the cast ballots in submitted_ballots/ is the encrypted tally.
func (s *Service) Export(ctx context.Context, id int64, w *record.Writer) error {
	el, err := s.load(ctx, id)
	if err != nil {
		return err
	}
	var (
		st        State
		devices   []byte
		available []string
	)
	if err := s.pool.QueryRow(ctx, `SELECT state, devices, available_guardians FROM elections WHERE election_id = $1`, id).
		Scan(&st, &devices, &available); err != nil {
		return fmt.Errorf("read election %d: %w", id, err)
	}
	if err := s.exportHeader(el, devices, w); err != nil {
		return err
	}
	if err := s.exportBallots(ctx, el, w); err != nil {
		return err
	}
	if st == StateOpen || st == StateTallying {
		return nil
	}
	if err := s.exportEncryptedTally(ctx, el, w); err != nil {
		return err
	}
	if st != StateDecrypted {
		return nil
	}
	if err := s.exportPlaintexts(ctx, el, w); err != nil {
		return err
	}
	dec, err := s.decryptor(ctx, s.pool, el)
	if err != nil {
		return err
	}
	coeffs, err := dec.Coefficients(available)
	if err != nil {
		return fmt.Errorf("coefficients: %w", err)
	}
	return w.WriteCoefficients(coeffs)
}

func (s *Service) exportHeader(el *loaded, devices []byte, w *record.Writer) error {
	var devs []*record.EncryptionDevice
	if err := json.Unmarshal(devices, &devs); err != nil {
		return fmt.Errorf("stored encryption devices: %w", err)
	}
	errs := []error{w.WriteConstants(record.ConstantsOf(el.group)), w.WriteContext(el.election.Context), w.WriteManifest(el.election.Manifest)}
	for _, g := range el.guardians {
		errs = append(errs, w.WriteGuardian(g))
	}
	for _, d := range devs {
		errs = append(errs, w.WriteDevice(d))
	}
	return errors.Join(errs...)
}

// exportBallots streams every ballot from Postgres into the record.
func (s *Service) exportBallots(ctx context.Context, el *loaded, w *record.Writer) error {
	rows, err := s.pool.Query(ctx, `SELECT b.data, i.check_name, i.reason FROM ballots b
		LEFT JOIN invalid_ballots i USING (election_id, ballot_no) WHERE b.election_id = $1 ORDER BY b.ballot_no`, el.id)
	if err != nil {
		return fmt.Errorf("read ballots: %w", err)
	}
	var (
		data          []byte
		check, reason *string
		invalid       = []InvalidBallot{}
	)
	_, err = pgx.ForEachRow(rows, []any{&data, &check, &reason}, func() error {
		b, err := record.DecodeCompact(el.group, data)
		if err != nil {
			return err
		}
		if check == nil {
			return w.WriteSubmittedBallot(b)
		}
		invalid = append(invalid, InvalidBallot{BallotID: b.ObjectID, Check: *check, Reason: *reason})
		return w.WriteInvalidBallot(b)
	})
	if err != nil {
		return fmt.Errorf("export ballots: %w", err)
	}
	if len(invalid) == 0 {
		return nil
	}
	return w.WriteDocument(record.InvalidBallotsFile, invalid)
}

// exportEncryptedTally writes the election's one encrypted tally.
func (s *Service) exportEncryptedTally(ctx context.Context, el *loaded, w *record.Writer) error {
	t, err := s.encryptedTally(ctx, s.pool, el)
	if err != nil {
		return err
	}
	return w.WriteEncryptedTally(t.Record(TallyObjectID))
}

// encryptedTally reads the election's encrypted tally back into a Tally.
func (s *Service) encryptedTally(ctx context.Context, q rowsQueryer, el *loaded) (*record.Tally, error) {
	rows, err := q.Query(ctx, `SELECT pad, data FROM decryption_objects WHERE election_id = $1 AND NOT spoiled ORDER BY object_no`, el.id)
	if err != nil {
		return nil, fmt.Errorf("read encrypted tally: %w", err)
	}
	// The objects hold ElementModP.Bytes, already as wide as p: together they
	// are the tally's AppendBinary form, which MergeBinary length-checks.
	var enc, pad, data []byte
	if _, err := pgx.ForEachRow(rows, []any{&pad, &data}, func() error {
		enc = append(append(enc, pad...), data...)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read encrypted tally: %w", err)
	}
	t := el.election.NewTally()
	if err := t.MergeBinary(enc); err != nil {
		return nil, fmt.Errorf("stored encrypted tally: %w", err)
	}
	return t, nil
}

// exportPlaintexts writes tally.json and spoiled_ballots/, each selection
// with every share and recovered part.
func (s *Service) exportPlaintexts(ctx context.Context, el *loaded, w *record.Writer) error {
	rows, err := s.pool.Query(ctx, `SELECT o.owner, o.spoiled, o.contest_id, r.selection
		FROM decryption_objects o JOIN plaintext_results r USING (election_id, object_no)
		WHERE o.election_id = $1 ORDER BY o.object_no`, el.id)
	if err != nil {
		return fmt.Errorf("read results: %w", err)
	}
	var (
		cur            *record.PlaintextTally
		curSpoiled     bool
		owner, contest string
		spoiled        bool
		raw            []byte
	)
	flush := func() error {
		if cur == nil {
			return nil
		}
		if curSpoiled {
			return w.WriteSpoiledBallot(cur)
		}
		return w.WriteTally(cur)
	}
	_, err = pgx.ForEachRow(rows, []any{&owner, &spoiled, &contest, &raw}, func() error {
		if cur == nil || cur.ObjectID != owner {
			if err := flush(); err != nil {
				return err
			}
			cur, curSpoiled = &record.PlaintextTally{ObjectID: owner, Contests: record.Keyed[record.PlaintextTallyContest]{}}, spoiled
		}
		if n := len(cur.Contests); n == 0 || cur.Contests[n-1].ObjectID != contest {
			cur.Contests = append(cur.Contests, record.PlaintextTallyContest{ObjectID: contest, Selections: record.Keyed[record.PlaintextTallySelection]{}})
		}
		var sel record.PlaintextTallySelection
		if err := json.Unmarshal(raw, &sel); err != nil {
			return fmt.Errorf("stored result: %w", err)
		}
		c := &cur.Contests[len(cur.Contests)-1]
		c.Selections = append(c.Selections, sel)
		return nil
	})
	if err != nil {
		return fmt.Errorf("export results: %w", err)
	}
	return flush()
}
