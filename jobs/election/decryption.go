package election

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tallyq/tallyq/eg"
	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/jobs"
)

// decryptionMeta is a decryption job's metadata.
type decryptionMeta struct {
	GuardianID string `json:"guardianId"`
}

// decryptor returns the election's decryptor, reading through q (the
// caller's transaction, or the pool); its discrete-log table covers the
// election's ballot count, which is fixed once the tally has started.
func (s *Service) decryptor(ctx context.Context, q queryer, el *loaded) (*record.Decryptor, error) {
	return el.decryptor(func() (int64, error) {
		var count int64
		if err := q.QueryRow(ctx, `SELECT ballot_count FROM elections WHERE election_id = $1`, el.id).Scan(&count); err != nil {
			return 0, fmt.Errorf("read ballot count of election %d: %w", el.id, err)
		}
		return count, nil
	})
}

// decryptableState says whether guardians may decrypt in state st, and if
// not, why.
func decryptableState(id int64, st State) error {
	switch st {
	case StateTallied, StateDecrypting:
		return nil
	case StateOpen, StateTallying:
		return wrongState(id, st, "guardians decrypt the encrypted tally, which exists once the tally job has completed (POST /api/create-tally-queue)")
	}
	return wrongState(id, st, "combine has started, so the set of decrypting guardians is frozen")
}

// StartDecryption starts a guardian's server-side decryption from its
// private record: the record is checked against the guardian's public key
// and commitments, only s_i and the decrypted backups are kept, sealed, and a
// job computes the guardian's share of every tally selection and spoiled
// ballot. If the guardian's decryption job exists and is active or done, it
// is returned; a FAILED or CANCELLED one is resumed.
func (s *Service) StartDecryption(ctx context.Context, electionID int64, guardianID string, privateRecord []byte, by string) (Started, error) {
	if s.cfg.SecretKey == nil {
		return Started{}, fmt.Errorf("%w: this server has no TALLYQ_SECRET_KEY to seal guardian secrets with; set one, or let the guardian decrypt offline (tallyq guardian decrypt) and upload the shares", ErrNoSecretKey)
	}
	el, err := s.load(ctx, electionID)
	if err != nil {
		return Started{}, err
	}
	var out Started
	var resume *uuid.UUID
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		g, err := lockDecryptingGuardian(ctx, tx, electionID, guardianID)
		if err != nil {
			return err
		}
		if g.mode != nil && *g.mode == "offline" {
			return fmt.Errorf("%w: guardian %q has already decrypted offline", ErrConflict, guardianID)
		}
		if g.job != nil {
			out.Job, err = s.engine.StatusTx(ctx, tx, *g.job)
			if err == nil && (out.Job.Status == jobs.StatusFailed || out.Job.Status == jobs.StatusCancelled) {
				resume = g.job
			}
			return err
		}
		dec, err := s.decryptor(ctx, tx, el)
		if err != nil {
			return err
		}
		trustee, err := extractSecret(el, dec, guardianID, privateRecord)
		if err != nil {
			return err
		}
		sealed, err := sealTrustee(*s.cfg.SecretKey, electionID, trustee)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO guardian_secrets (election_id, guardian_id, sealed) VALUES ($1, $2, $3)
			ON CONFLICT (election_id, guardian_id) DO UPDATE SET sealed = excluded.sealed`, electionID, guardianID, sealed); err != nil {
			return fmt.Errorf("store sealed secret: %w", err)
		}
		units, err := decryptionUnits(ctx, tx, electionID)
		if err != nil {
			return err
		}
		meta, err := json.Marshal(decryptionMeta{GuardianID: guardianID})
		if err != nil {
			return err
		}
		out.Job, err = s.engine.CreateJobTx(ctx, tx, jobs.CreateParams{OperationType: OpDecryption, ElectionID: &electionID,
			TotalChunks: units, CreatedBy: by, Metadata: meta})
		if err != nil {
			return err
		}
		out.Created = true
		if _, err := tx.Exec(ctx, `UPDATE guardians SET decryption_mode = 'server', decryption_job = $3
			WHERE election_id = $1 AND guardian_id = $2`, electionID, guardianID, out.Job.JobID); err != nil {
			return fmt.Errorf("record decryption job: %w", err)
		}
		return setState(ctx, tx, electionID, StateDecrypting)
	})
	if err != nil {
		return Started{}, err
	}
	if resume != nil {
		if out, err = s.resume(ctx, *resume, by); err != nil {
			return Started{}, err
		}
	}
	if out, err = s.settleEmpty(ctx, out); err != nil {
		return Started{}, err
	}
	s.log.Info("decryption requested", "election_id", electionID, "guardian_id", guardianID, "job_id", out.Job.JobID, "created", out.Created, "by", by)
	return out, nil
}

// resume retries a FAILED or CANCELLED job; a job another request resumed
// first is returned as it is.
func (s *Service) resume(ctx context.Context, id uuid.UUID, by string) (Started, error) {
	job, err := s.engine.Retry(ctx, id, by)
	if errors.Is(err, jobs.ErrConflict) {
		job, err = s.engine.Status(ctx, id)
		return Started{Job: job}, err
	}
	return Started{Job: job, Created: true}, err
}

// settleEmpty completes a job just created with no chunks (nothing for a
// worker to do) at once, rather than at the maintenance loop's next sweep.
func (s *Service) settleEmpty(ctx context.Context, out Started) (Started, error) {
	if !out.Created || out.Job.TotalChunks > 0 {
		return out, nil
	}
	if err := s.engine.Settle(ctx, out.Job.JobID); err != nil {
		return out, err
	}
	job, err := s.engine.Status(ctx, out.Job.JobID)
	out.Job = job
	return out, err
}

// guardianState is a guardian's decryption progress.
type guardianState struct {
	mode      *string
	job       *uuid.UUID
	decrypted *time.Time
}

// lockDecryptingGuardian locks an election whose guardians may decrypt (else
// a conflict naming its state) and the guardian's row, and returns the
// guardian's progress.
func lockDecryptingGuardian(ctx context.Context, tx pgx.Tx, electionID int64, guardianID string) (guardianState, error) {
	st, err := lockElection(ctx, tx, electionID)
	if err != nil {
		return guardianState{}, err
	}
	if err := decryptableState(electionID, st); err != nil {
		return guardianState{}, err
	}
	return guardianRow(ctx, tx, electionID, guardianID)
}

func guardianRow(ctx context.Context, tx pgx.Tx, electionID int64, guardianID string) (guardianState, error) {
	var g guardianState
	err := tx.QueryRow(ctx, `SELECT decryption_mode, decryption_job, decrypted_at FROM guardians
		WHERE election_id = $1 AND guardian_id = $2 FOR UPDATE`, electionID, guardianID).Scan(&g.mode, &g.job, &g.decrypted)
	if errors.Is(err, pgx.ErrNoRows) {
		return g, fmt.Errorf("%w: election %d has no guardian %q", ErrNotFound, electionID, guardianID)
	}
	if err != nil {
		return g, fmt.Errorf("read guardian %q: %w", guardianID, err)
	}
	return g, nil
}

// decryptionUnits is the number of decryption chunks: one per tally
// contest and one per valid spoiled ballot.
func decryptionUnits(ctx context.Context, q pgx.Tx, electionID int64) (int, error) {
	var n int
	if err := q.QueryRow(ctx, `SELECT coalesce(max(unit) + 1, 0) FROM decryption_objects WHERE election_id = $1`, electionID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count decryption units: %w", err)
	}
	return n, nil
}

// object is one ciphertext to decrypt.
type object struct {
	no        int
	owner     string
	contest   string
	selection string
	ct        eg.Ciphertext
}

// unitObjects reads the objects of one decryption unit, in object order.
func (s *Service) unitObjects(ctx context.Context, el *loaded, unit int) ([]object, error) {
	rows, err := s.pool.Query(ctx, `SELECT object_no, owner, contest_id, selection_id, pad, data FROM decryption_objects
		WHERE election_id = $1 AND unit = $2 ORDER BY object_no`, el.id, unit)
	if err != nil {
		return nil, fmt.Errorf("read decryption unit %d: %w", unit, err)
	}
	var (
		out       []object
		o         object
		pad, data []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&o.no, &o.owner, &o.contest, &o.selection, &pad, &data}, func() error {
		var err1, err2 error
		o.ct.Pad, err1 = el.group.ElementModPFromBytes(pad)
		o.ct.Data, err2 = el.group.ElementModPFromBytes(data)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("stored object %d: %w", o.no, err)
		}
		out = append(out, o)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read decryption unit %d: %w", unit, err)
	}
	return out, nil
}

// decryptionOp is the DECRYPTION operation: one guardian's shares of one
// unit (a tally contest or a spoiled ballot) per chunk.
type decryptionOp struct{ s *Service }

func (o *decryptionOp) Type() string                { return OpDecryption }
func (o *decryptionOp) ChunkTimeout() time.Duration { return 30 * time.Minute }

func (o *decryptionOp) Process(ctx context.Context, c jobs.Chunk) (jobs.Result, error) {
	var meta decryptionMeta
	if err := json.Unmarshal(c.Metadata, &meta); err != nil || meta.GuardianID == "" || c.ElectionID == nil {
		return nil, fmt.Errorf("decryption job metadata %s is not a decryption's", c.Metadata)
	}
	el, err := o.s.load(ctx, *c.ElectionID)
	if err != nil {
		return nil, err
	}
	dec, err := o.s.decryptor(ctx, o.s.pool, el)
	if err != nil {
		return nil, err
	}
	objs, err := o.s.unitObjects(ctx, el, c.Number)
	if err != nil {
		return nil, err
	}
	trustee, err := o.s.openTrustee(ctx, el, meta.GuardianID)
	if err != nil {
		return nil, err
	}
	rows := make([][]any, 0, len(objs))
	for _, obj := range objs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		share, err := json.Marshal(dec.Share(obj.selection, meta.GuardianID, obj.ct, trustee.Secret))
		if err != nil {
			return nil, err
		}
		rows = append(rows, []any{el.id, obj.no, meta.GuardianID, share})
	}
	return copyResult("decryption_shares", []string{"election_id", "object_no", "guardian_id", "share"}, rows), nil
}

// copyResult is a Result that copies rows into a table.
func copyResult(table string, columns []string, rows [][]any) jobs.Result {
	return jobs.ResultFunc(func(ctx context.Context, tx pgx.Tx) error {
		if len(rows) == 0 {
			return nil
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("store %d rows of %s: %w", len(rows), table, err)
		}
		return nil
	})
}

// Complete records the guardian as decrypted.
func (o *decryptionOp) Complete(ctx context.Context, tx pgx.Tx, job jobs.JobStatus) error {
	var meta decryptionMeta
	if err := json.Unmarshal(job.Metadata, &meta); err != nil {
		return fmt.Errorf("decryption job metadata: %w", err)
	}
	_, err := tx.Exec(ctx, `UPDATE guardians SET decrypted_at = now() WHERE election_id = $1 AND guardian_id = $2`,
		*job.ElectionID, meta.GuardianID)
	return err
}
