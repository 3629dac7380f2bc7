package election

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/jobs"
)

// Started is the job an operation request started or found.
type Started struct {
	Job jobs.JobStatus
	// Created is true when this request created (or resumed) the job, false
	// when it returns a job that was already running or done.
	Created bool
}

// tallyMeta is a tally job's metadata.
type tallyMeta struct {
	ChunkSize int  `json:"chunkSize"`
	Verify    bool `json:"verifyBallots"`
}

// StartTally closes ingest and starts the tally job, or returns the
// election's tally job when one is active or done. After a FAILED or
// CANCELLED tally it resumes the unfinished chunks.
func (s *Service) StartTally(ctx context.Context, electionID int64, by string) (Started, error) {
	var (
		out     Started
		resume  *uuid.UUID
		created bool
	)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		st, err := lockElection(ctx, tx, electionID)
		if err != nil {
			return err
		}
		var (
			jobID     *uuid.UUID
			count     int64
			chunkSize int
			verify    bool
		)
		if err := tx.QueryRow(ctx, `SELECT tally_job, ballot_count, chunk_size, verify_ballots FROM elections WHERE election_id = $1`,
			electionID).Scan(&jobID, &count, &chunkSize, &verify); err != nil {
			return fmt.Errorf("read election %d: %w", electionID, err)
		}
		if jobID != nil {
			out.Job, err = s.engine.StatusTx(ctx, tx, *jobID)
			if err == nil && (out.Job.Status == jobs.StatusFailed || out.Job.Status == jobs.StatusCancelled) {
				resume = jobID
			}
			return err
		}
		if st != StateOpen {
			return wrongState(electionID, st, "a tally starts only from OPEN")
		}
		meta, err := json.Marshal(tallyMeta{ChunkSize: chunkSize, Verify: verify})
		if err != nil {
			return err
		}
		chunks := int((count + int64(chunkSize) - 1) / int64(chunkSize))
		out.Job, err = s.engine.CreateJobTx(ctx, tx, jobs.CreateParams{OperationType: OpTally, ElectionID: &electionID,
			TotalChunks: chunks, CreatedBy: by, Metadata: meta})
		if err != nil {
			return err
		}
		created = true
		if _, err := tx.Exec(ctx, `UPDATE elections SET tally_job = $2 WHERE election_id = $1`, electionID, out.Job.JobID); err != nil {
			return fmt.Errorf("record tally job: %w", err)
		}
		return setState(ctx, tx, electionID, StateTallying)
	})
	if err != nil {
		return Started{}, err
	}
	out.Created = created
	if resume != nil {
		if out, err = s.resume(ctx, *resume, by); err != nil {
			return Started{}, err
		}
	}
	if out, err = s.settleEmpty(ctx, out); err != nil {
		return Started{}, err
	}
	s.log.Info("tally requested", "election_id", electionID, "job_id", out.Job.JobID, "created", out.Created, "by", by)
	return out, nil
}

// UnverifiedTallyReads is the SQL expression of what a tally that does not verify reads
// of a row of ballots: a cast ballot's tally form (record.EncodeTallyForm: its
// ciphertexts without the proofs, about a third of the bytes for Postgres to read from
// TOAST and send), or the full encoding of a spoiled ballot, whose selections are kept
// for decryption, or of one stored before the tally form was.
const UnverifiedTallyReads = "coalesce(tally_form, data)"

// tallyOp is the TALLY operation: a chunk is a range of ballot numbers; it
// validates each ballot (when the election verifies ballots) and multiplies
// the valid cast ones into a subtotal. Completion multiplies the subtotals
// into the election's one encrypted tally.
type tallyOp struct{ s *Service }

func (o *tallyOp) Type() string                { return OpTally }
func (o *tallyOp) ChunkTimeout() time.Duration { return 30 * time.Minute }

// validateBatch is how many ballots are validated together: the selection
// proofs are checked in batches of eg.MaxBatch, and a handful of decoded
// ballots is all a chunk holds at once, whatever its size.
const validateBatch = 16

// tallyResult is one chunk's effect.
type tallyResult struct {
	electionID int64
	chunk      int
	subtotal   []byte
	cast       int
	spoiled    int
	invalid    []invalidBallot
	spoiledSel [][]any
}

type invalidBallot struct {
	no     int64
	check  string
	reason string
}

func (o *tallyOp) Process(ctx context.Context, c jobs.Chunk) (jobs.Result, error) {
	var meta tallyMeta
	if err := json.Unmarshal(c.Metadata, &meta); err != nil || meta.ChunkSize <= 0 || c.ElectionID == nil {
		return nil, fmt.Errorf("tally job metadata %s is not a tally's", c.Metadata)
	}
	el, err := o.s.load(ctx, *c.ElectionID)
	if err != nil {
		return nil, err
	}
	from := int64(c.Number) * int64(meta.ChunkSize)
	read := "data"
	if !meta.Verify {
		read = UnverifiedTallyReads
	}
	rows, err := o.s.pool.Query(ctx, `SELECT ballot_no, `+read+` FROM ballots
		WHERE election_id = $1 AND ballot_no >= $2 AND ballot_no < $3 ORDER BY ballot_no`, el.id, from, from+int64(meta.ChunkSize))
	if err != nil {
		return nil, fmt.Errorf("read ballots: %w", err)
	}
	acc := newChunkTally(el, meta.Verify, c.Number)
	// data refers to pgx's read buffer until the next row: neither decoder keeps a
	// reference to it past the row, so no ballot is copied on its way in.
	var (
		no   int64
		data pgtype.DriverBytes
	)
	if _, err = pgx.ForEachRow(rows, []any{&no, &data}, func() error { return acc.add(ctx, no, data) }); err != nil {
		return nil, err
	}
	res, err := acc.result(ctx)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// chunkTally folds a chunk's ballots, a few at a time, into its subtotal.
//
// Verified, each ballot is decoded in full and validated in batches. Unverified, only
// the selections' ciphertexts are read (a ViewDecoder) and multiplied into a
// TallyBuffer, which encodes the subtotal itself, all reusing their memory: decoding
// every proof only to drop it, and a new 4096-bit element per product, made 80 KB of
// garbage per ballot of the small fixture (record.BenchmarkTallyCompactBallots), which
// set how far the worker's heap overshot between collections.
type chunkTally struct {
	el      *loaded
	verify  bool
	tally   *record.Tally             // verified
	pending []*record.SubmittedBallot // verified: decoded, awaiting validation
	nos     []int64
	view    *record.ViewDecoder // unverified
	buf     *record.TallyBuffer // unverified
	res     *tallyResult
}

func newChunkTally(el *loaded, verify bool, chunk int) *chunkTally {
	a := &chunkTally{el: el, verify: verify, res: &tallyResult{electionID: el.id, chunk: chunk}}
	if verify {
		a.tally = el.election.NewTally()
	} else {
		a.view, a.buf = record.NewViewDecoder(el.group), el.election.NewTallyBuffer()
	}
	return a
}

// add takes the stored ballot number no, whose compact encoding is data.
func (a *chunkTally) add(ctx context.Context, no int64, data []byte) error {
	if !a.verify {
		return a.addUnverified(ctx, no, data)
	}
	b, err := decodeStored(a.el, no, data)
	if err != nil {
		return err
	}
	a.pending = append(a.pending, b)
	a.nos = append(a.nos, no)
	if len(a.pending) >= validateBatch {
		return a.flush(ctx)
	}
	return nil
}

// addUnverified multiplies a ballot's ciphertexts in at once. A spoiled ballot, rare,
// is decoded in full too, for its ids and ciphertexts to be stored for decryption.
func (a *chunkTally) addUnverified(ctx context.Context, no int64, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v, err := a.view.Decode(data)
	if err != nil {
		return fmt.Errorf("stored ballot %d does not decode: %w", no, err)
	}
	if v.State == record.BallotSpoiled {
		b, err := decodeStored(a.el, no, data)
		if err != nil {
			return err
		}
		if err := a.addSpoiled(no, b); err != nil {
			return err
		}
	}
	if err := a.buf.Add(v); err != nil {
		return fmt.Errorf("ballot %d: %w", no, err)
	}
	return nil
}

func decodeStored(el *loaded, no int64, data []byte) (*record.SubmittedBallot, error) {
	b, err := record.DecodeCompact(el.group, data)
	if err != nil {
		return nil, fmt.Errorf("stored ballot %d does not decode: %w", no, err)
	}
	return b, nil
}

// flush validates the pending ballots and multiplies the valid ones in.
func (a *chunkTally) flush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	errs := a.el.election.ValidateBallots(a.pending)
	for i, b := range a.pending {
		if errs[i] != nil {
			a.res.invalid = append(a.res.invalid, invalidOf(a.nos[i], errs[i]))
			continue
		}
		if b.State == record.BallotSpoiled {
			if err := a.addSpoiled(a.nos[i], b); err != nil {
				return err
			}
		}
		if err := a.tally.Add(b); err != nil {
			return fmt.Errorf("ballot %d: %w", a.nos[i], err)
		}
	}
	a.pending, a.nos = a.pending[:0], a.nos[:0]
	return nil
}

// result is the chunk's effect once every ballot is added.
func (a *chunkTally) result(ctx context.Context) (*tallyResult, error) {
	if len(a.pending) > 0 {
		if err := a.flush(ctx); err != nil {
			return nil, err
		}
	}
	if a.verify {
		a.res.subtotal, a.res.cast = a.tally.AppendBinary(nil), a.tally.Cast()
	} else {
		a.res.subtotal, a.res.cast = a.buf.AppendBinary(nil), a.buf.Cast()
	}
	return a.res, nil
}

// addSpoiled keeps a valid spoiled ballot's ciphertexts (placeholders too,
// as 1.x decrypts them) for decryption.
func (a *chunkTally) addSpoiled(no int64, b *record.SubmittedBallot) error {
	a.res.spoiled++
	contests, err := b.Ciphertexts(a.el.group)
	if err != nil {
		return fmt.Errorf("ballot %d: %w", no, err)
	}
	pos := 0
	for _, c := range contests {
		for _, sel := range c.Selections {
			a.res.spoiledSel = append(a.res.spoiledSel, []any{a.el.id, no, pos, b.ObjectID, c.ObjectID, sel.ObjectID,
				sel.Ciphertext.Pad.Bytes(), sel.Ciphertext.Data.Bytes()})
			pos++
		}
	}
	return nil
}

func invalidOf(no int64, err error) invalidBallot {
	inv := invalidBallot{no: no, check: "validation", reason: err.Error()}
	var be *record.BallotError
	if errors.As(err, &be) {
		inv.check = string(be.Check)
	}
	return inv
}

func (r *tallyResult) ApplyTx(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `INSERT INTO tally_subtotals (election_id, chunk_no, cast_count, spoiled, invalid, data)
		VALUES ($1, $2, $3, $4, $5, $6)`, r.electionID, r.chunk, r.cast, r.spoiled, len(r.invalid), r.subtotal); err != nil {
		return fmt.Errorf("store subtotal of chunk %d: %w", r.chunk, err)
	}
	if len(r.invalid) > 0 {
		rows := make([][]any, len(r.invalid))
		for i, inv := range r.invalid {
			rows[i] = []any{r.electionID, inv.no, inv.check, inv.reason}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"invalid_ballots"}, []string{"election_id", "ballot_no", "check_name", "reason"},
			pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("record invalid ballots of chunk %d: %w", r.chunk, err)
		}
	}
	if len(r.spoiledSel) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"spoiled_selections"},
			[]string{"election_id", "ballot_no", "position", "ballot_id", "contest_id", "selection_id", "pad", "data"},
			pgx.CopyFromRows(r.spoiledSel)); err != nil {
			return fmt.Errorf("store spoiled ballots of chunk %d: %w", r.chunk, err)
		}
	}
	return nil
}

// Complete multiplies the subtotals into the election's encrypted tally and
// numbers what the guardians will decrypt: the tally's selections (one
// decryption chunk per contest) and each valid spoiled ballot's selections
// (one chunk per ballot).
func (o *tallyOp) Complete(ctx context.Context, tx pgx.Tx, job jobs.JobStatus) error {
	el, err := o.s.load(ctx, *job.ElectionID)
	if err != nil {
		return err
	}
	// A subtotal per chunk, thousands of them in a large election: multiplied in reused
	// integers, straight from pgx's read buffer, they leave no garbage behind.
	buf := el.election.NewTallyBuffer()
	rows, err := tx.Query(ctx, `SELECT data FROM tally_subtotals WHERE election_id = $1`, el.id)
	if err != nil {
		return fmt.Errorf("read subtotals: %w", err)
	}
	var data pgtype.DriverBytes
	if _, err := pgx.ForEachRow(rows, []any{&data}, func() error { return buf.AddBinary(data) }); err != nil {
		return fmt.Errorf("multiply subtotals: %w", err)
	}
	tally := el.election.NewTally()
	if err := buf.MergeInto(tally); err != nil {
		return err
	}
	var objects [][]any
	for unit, c := range tally.Record(TallyObjectID).Contests {
		for _, sel := range c.Selections {
			ct, err := sel.Ciphertext.Elements(el.group)
			if err != nil {
				return err
			}
			objects = append(objects, []any{el.id, len(objects), unit, TallyObjectID, false, c.ObjectID, sel.ObjectID,
				ct.Pad.Bytes(), ct.Data.Bytes()})
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"decryption_objects"},
		[]string{"election_id", "object_no", "unit", "owner", "spoiled", "contest_id", "selection_id", "pad", "data"},
		pgx.CopyFromRows(objects)); err != nil {
		return fmt.Errorf("store encrypted tally: %w", err)
	}
	contests := len(el.election.Manifest.Contests)
	if _, err := tx.Exec(ctx, `INSERT INTO decryption_objects (election_id, object_no, unit, owner, spoiled, contest_id, selection_id, pad, data)
		SELECT election_id, $2 + row_number() OVER (ORDER BY ballot_no, position) - 1,
			$3 + dense_rank() OVER (ORDER BY ballot_no) - 1, ballot_id, true, contest_id, selection_id, pad, data
		FROM spoiled_selections WHERE election_id = $1`, el.id, len(objects), contests); err != nil {
		return fmt.Errorf("number spoiled ballots for decryption: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM spoiled_selections WHERE election_id = $1`, el.id); err != nil {
		return fmt.Errorf("clear spoiled selections: %w", err)
	}
	return setState(ctx, tx, el.id, StateTallied)
}
