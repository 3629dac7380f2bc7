package election

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"

	"github.com/jackc/pgx/v5"

	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/jobs"
)

// SharesReport is the outcome of an offline guardian's upload.
type SharesReport struct {
	Success           bool   `json:"success"`
	GuardianID        string `json:"guardianId"`
	Shares            int    `json:"shares"`
	CompensatedShares int    `json:"compensatedShares"`
}

// UploadShares accepts the shares a guardian computed offline (`tallyq
// guardian decrypt`): the file must be for this election and guardian, cover
// every selection of the encrypted tally and of every spoiled ballot, and
// every proof must verify. Its shares (and compensated shares for the
// missing guardians it names) are stored and the guardian counts as
// decrypted. Nothing is stored when anything is wrong.
func (s *Service) UploadShares(ctx context.Context, electionID int64, guardianID string, r io.Reader, by string) (*SharesReport, error) {
	gs, err := record.DecodeGuardianShares(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if gs.GuardianID != guardianID {
		return nil, fmt.Errorf("%w: the file holds guardian %q's shares, not guardian %q's", ErrInvalid, gs.GuardianID, guardianID)
	}
	el, err := s.load(ctx, electionID)
	if err != nil {
		return nil, err
	}
	rep := &SharesReport{Success: true, GuardianID: guardianID}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		g, err := lockDecryptingGuardian(ctx, tx, electionID, guardianID)
		if err != nil {
			return err
		}
		if g.decrypted != nil || g.job != nil {
			return fmt.Errorf("%w: guardian %q has already decrypted (or is decrypting on the server)", ErrConflict, guardianID)
		}
		if err := s.verifyShares(ctx, tx, el, gs); err != nil {
			return err
		}
		if err := storeShares(ctx, tx, electionID, gs, rep); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE guardians SET decryption_mode = 'offline', decrypted_at = now()
			WHERE election_id = $1 AND guardian_id = $2`, electionID, guardianID); err != nil {
			return fmt.Errorf("record guardian %q as decrypted: %w", guardianID, err)
		}
		if err := jobs.RecordAudit(ctx, tx, jobs.AuditEntry{Actor: by, Action: jobs.AuditUploadShares, ElectionID: &electionID,
			GuardianID: guardianID, Detail: fmt.Sprintf("%d shares, %d compensated shares", rep.Shares, rep.CompensatedShares)}); err != nil {
			return err
		}
		return setState(ctx, tx, electionID, StateDecrypting)
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("offline shares accepted", "election_id", electionID, "guardian_id", guardianID, "shares", rep.Shares,
		"compensated_shares", rep.CompensatedShares, "by", by)
	return rep, nil
}

// verifyShares checks an upload against the election's encrypted tally and
// valid spoiled ballots, read through q.
func (s *Service) verifyShares(ctx context.Context, q rowsQueryer, el *loaded, gs *record.GuardianShares) error {
	dec, err := s.decryptor(ctx, q, el)
	if err != nil {
		return err
	}
	tally, err := s.encryptedTally(ctx, q, el)
	if err != nil {
		return err
	}
	if err := dec.VerifyGuardianShares(ctx, gs, tally.Record(TallyObjectID), s.spoiledBallots(ctx, q, el)); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// spoiledBallots yields the election's valid spoiled ballots, one at a time,
// read through q.
func (s *Service) spoiledBallots(ctx context.Context, q rowsQueryer, el *loaded) iter.Seq2[*record.SubmittedBallot, error] {
	return func(yield func(*record.SubmittedBallot, error) bool) {
		rows, err := q.Query(ctx, `SELECT b.data FROM ballots b WHERE b.election_id = $1 AND b.state = 2
			AND NOT EXISTS (SELECT 1 FROM invalid_ballots i WHERE i.election_id = b.election_id AND i.ballot_no = b.ballot_no)
			ORDER BY b.ballot_no`, el.id)
		if err != nil {
			yield(nil, err)
			return
		}
		defer rows.Close()
		for rows.Next() {
			var data []byte
			if err := rows.Scan(&data); err != nil {
				yield(nil, err)
				return
			}
			if !yield(record.DecodeCompact(el.group, data)) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(nil, err)
		}
	}
}

// storeShares writes an upload's shares under the election's object numbers.
func storeShares(ctx context.Context, tx pgx.Tx, electionID int64, gs *record.GuardianShares, rep *SharesReport) error {
	numbers, err := objectNumbers(ctx, tx, electionID)
	if err != nil {
		return err
	}
	var shares, parts [][]any
	for path, sel := range gs.Selections() {
		owner := path.BallotID
		if owner == "" {
			owner = TallyObjectID
		}
		no, ok := numbers[objectKey{owner, path.ContestID, path.SelectionID}]
		if !ok {
			return fmt.Errorf("%w: %s is not an object of this election", ErrInvalid, path)
		}
		raw, err := json.Marshal(sel.Share)
		if err != nil {
			return err
		}
		shares = append(shares, []any{electionID, no, gs.GuardianID, raw})
		for _, cs := range sel.CompensatedShares {
			raw, err := json.Marshal(cs)
			if err != nil {
				return err
			}
			parts = append(parts, []any{electionID, no, gs.GuardianID, cs.MissingGuardianID, raw})
		}
	}
	rep.Shares, rep.CompensatedShares = len(shares), len(parts)
	return errors.Join(
		copyResult("decryption_shares", []string{"election_id", "object_no", "guardian_id", "share"}, shares).ApplyTx(ctx, tx),
		copyResult("compensated_shares", []string{"election_id", "object_no", "guardian_id", "missing_guardian_id", "part"}, parts).ApplyTx(ctx, tx))
}

type objectKey struct{ owner, contest, selection string }

func objectNumbers(ctx context.Context, tx pgx.Tx, electionID int64) (map[objectKey]int, error) {
	rows, err := tx.Query(ctx, `SELECT owner, contest_id, selection_id, object_no FROM decryption_objects WHERE election_id = $1`, electionID)
	if err != nil {
		return nil, fmt.Errorf("read objects: %w", err)
	}
	out := map[objectKey]int{}
	var (
		k  objectKey
		no int
	)
	_, err = pgx.ForEachRow(rows, []any{&k.owner, &k.contest, &k.selection, &no}, func() error { out[k] = no; return nil })
	return out, err
}
