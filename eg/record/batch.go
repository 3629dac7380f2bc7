package record

import (
	"errors"

	"github.com/tallyq/tallyq/eg"
)

// ValidateBallots validates ballots like ValidateBallot and returns one error (nil when
// valid) per ballot, in order. The selection proofs of valid-looking ballots, then the
// contest proofs of those still valid, are verified in batches of at most eg.MaxBatch
// with the core's batch verification; when a batch fails, the failing proof is named and
// the rest of the batch verified again, so every result is the same as ValidateBallot's
// (for an invalid ballot, possibly another of its failed checks). Memory grows with the
// ballots passed, not with a batch: callers stream their ballots through in chunks.
func (e *Election) ValidateBallots(ballots []*SubmittedBallot) []error {
	errs := make([]error, len(ballots))
	var selections []pending[preparedSelection]
	var contests []pending[preparedContest]
	for i, b := range ballots {
		pb, err := e.prepareBallot(b)
		if err != nil {
			errs[i] = err
			continue
		}
		for _, s := range pb.selections {
			selections = append(selections, pending[preparedSelection]{ballot: i, b: b, item: s})
		}
		for _, c := range pb.contests {
			contests = append(contests, pending[preparedContest]{ballot: i, b: b, item: c})
		}
	}
	g, k, qbar := e.Group, e.PublicKey, e.ExtendedBaseHash
	verifyPending(selections, errs,
		func(ss []preparedSelection) error {
			items := make([]eg.DisjunctiveItem, len(ss))
			for i, s := range ss {
				items[i] = eg.DisjunctiveItem{Ciphertext: s.ct, Proof: s.proof}
			}
			return g.VerifyDisjunctiveBatch(items, k, qbar)
		},
		func(s preparedSelection) error { return s.proof.Verify(g, s.ct, k, qbar) },
		e.selectionFailure)
	verifyPending(contests, errs,
		func(cs []preparedContest) error {
			items := make([]eg.ConstantItem, len(cs))
			for i, c := range cs {
				items[i] = eg.ConstantItem{Ciphertext: c.acc, Proof: c.proof, Limit: c.limit}
			}
			return g.VerifyConstantBatch(items, k, qbar)
		},
		func(c preparedContest) error { return c.proof.Verify(g, c.acc, c.limit, k, qbar) },
		contestFailure)
	return errs
}

// pending is one proof of a ballot waiting for batch verification.
type pending[T any] struct {
	ballot int // index into the results
	b      *SubmittedBallot
	item   T
}

// verifyPending verifies the items' proofs MaxBatch at a time with batch, which names the
// first invalid item with an *eg.BatchError, and records the first failure of each ballot
// in errs (built by failure); items of ballots that already failed are skipped.
func verifyPending[T any](items []pending[T], errs []error, batch func([]T) error, single func(T) error,
	failure func(*SubmittedBallot, T, error) *BallotError) {
	for len(items) > 0 {
		var chunk []pending[T]
		n := 0
		for ; n < len(items) && len(chunk) < eg.MaxBatch; n++ {
			if errs[items[n].ballot] == nil {
				chunk = append(chunk, items[n])
			}
		}
		items = items[n:]
		verifyChunk(chunk, errs, batch, single, failure)
	}
}

// verifyChunk verifies one chunk: when the batch names an invalid item, the items before
// it are valid, so only those after it (of ballots still valid) are verified again. Should
// batch fail without naming an item, the chunk is verified one by one with single.
func verifyChunk[T any](chunk []pending[T], errs []error, batch func([]T) error, single func(T) error,
	failure func(*SubmittedBallot, T, error) *BallotError) {
	for len(chunk) > 0 {
		values := make([]T, len(chunk))
		for i, it := range chunk {
			values[i] = it.item
		}
		err := batch(values)
		if err == nil {
			return
		}
		var be *eg.BatchError
		if !errors.As(err, &be) || be.Index < 0 || be.Index >= len(chunk) {
			for _, it := range chunk {
				if errs[it.ballot] == nil {
					if err := single(it.item); err != nil {
						errs[it.ballot] = failure(it.b, it.item, err)
					}
				}
			}
			return
		}
		bad := chunk[be.Index]
		errs[bad.ballot] = failure(bad.b, bad.item, be.Err)
		var rest []pending[T]
		for _, it := range chunk[be.Index+1:] {
			if errs[it.ballot] == nil {
				rest = append(rest, it)
			}
		}
		chunk = rest
	}
}
