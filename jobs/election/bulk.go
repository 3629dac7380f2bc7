package election

import (
	"context"
	"fmt"
	"iter"

	"github.com/jackc/pgx/v5"

	"github.com/tallyq/tallyq/eg/record"
)

// IngestChecked stores ballots in an OPEN election as IngestBallots does (one
// transaction, batched COPY, identical re-uploads counted, a different ballot
// under a known id refused) but without decoding JSON or re-running
// CheckStructure: the caller vouches that every ballot is CAST or SPOILED and
// passes CheckStructure for this election. It exists for ballots made from
// ones already checked, such as the benchmarks' relabelled copies of a pool,
// whose JSON decoding and hashing would otherwise cost more than the tally
// being measured. The sequence's error stops the ingest and stores nothing.
func (s *Service) IngestChecked(ctx context.Context, electionID int64, ballots iter.Seq2[*record.SubmittedBallot, error]) (*IngestReport, error) {
	var rep *IngestReport
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		in, err := s.newIngester(ctx, tx, electionID)
		if err != nil {
			return err
		}
		line := 0
		for b, err := range ballots {
			if err != nil {
				return fmt.Errorf("ballot %d: %w", line+1, err)
			}
			line++
			in.report.Received++
			if err := in.queue(ctx, line, b); err != nil {
				return err
			}
		}
		rep, err = in.finish(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("checked ballots ingested", "election_id", electionID, "received", rep.Received, "stored", rep.Stored,
		"already_stored", rep.AlreadyStored, "rejected", rep.Rejected)
	return rep, nil
}
