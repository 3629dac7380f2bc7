package election

import (
	"context"
	"fmt"
	"iter"

	"github.com/jackc/pgx/v5"

	"github.com/tallyq/tallyq/eg/record"
)

// IngestChecked loads ballots into an OPEN election that has none yet, in
// one transaction and one streamed COPY, without decoding JSON or running
// CheckStructure: the caller vouches that every ballot is CAST or SPOILED
// and passes CheckStructure for this election. It exists for ballots made
// from ones already checked, such as the benchmarks' relabelled copies of a
// pool, whose JSON decoding and hashing would otherwise cost more than the
// tally being measured, and it overlaps encoding with Postgres' writing. A
// ballot id given twice, or the sequence's error, stores nothing.
func (s *Service) IngestChecked(ctx context.Context, electionID int64, ballots iter.Seq2[*record.SubmittedBallot, error]) (*IngestReport, error) {
	rep := &IngestReport{Errors: []LineError{}}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		in, err := s.newIngester(ctx, tx, electionID)
		if err != nil {
			return err
		}
		if in.next != 0 {
			return fmt.Errorf("%w: election %d already has %d ballots; IngestChecked loads an empty election", ErrConflict, electionID, in.next)
		}
		next, stop := iter.Pull2(ballots)
		defer stop()
		src := &checkedSource{el: in.el, next: next}
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"ballots"}, ballotColumns, src)
		if err != nil {
			return fmt.Errorf("store ballots: %w", err)
		}
		rep.Received, rep.Stored = int(n), int(n)
		in.next = n
		_, err = in.finish(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("checked ballots ingested", "election_id", electionID, "stored", rep.Stored)
	return rep, nil
}

// checkedSource is a pgx.CopyFromSource of checked ballots, encoded one at
// a time as COPY asks for them.
type checkedSource struct {
	el   *loaded
	next func() (*record.SubmittedBallot, error, bool)
	row  []any
	no   int64
	err  error
}

func (c *checkedSource) Next() bool {
	b, err, ok := c.next()
	if !ok || c.err != nil {
		return false
	}
	if err != nil {
		c.err = fmt.Errorf("ballot %d: %w", c.no+1, err)
		return false
	}
	p, err := encodeBallot(c.el, int(c.no)+1, b)
	if err != nil {
		c.err = fmt.Errorf("ballot %d (%s): %w", c.no+1, b.ObjectID, err)
		return false
	}
	c.row = p.row(c.el.id, c.no)
	c.no++
	return true
}

func (c *checkedSource) Values() ([]any, error) { return c.row, nil }

func (c *checkedSource) Err() error { return c.err }
