package record

import (
	"errors"

	"github.com/tallyq/tallyq/eg"
)

// ValidateBallots validates ballots like ValidateBallot and returns one error (nil when
// valid) per ballot, in order. The selection proofs of valid-looking ballots are verified
// in batches of at most eg.MaxBatch with the core's batch verification; when a batch
// fails, the failing proof is named and the rest of the batch verified again, so every
// result is the same as ValidateBallot's (for an invalid ballot, possibly another of its
// failed checks). Memory grows with the ballots passed, not with a batch: callers stream
// their ballots through in chunks.
func (e *Election) ValidateBallots(ballots []*SubmittedBallot) []error {
	errs := make([]error, len(ballots))
	var batch []batchItem
	flush := func() {
		e.verifyBatch(batch, errs)
		batch = batch[:0]
	}
	prepared := make([]*preparedBallot, len(ballots))
	for i, b := range ballots {
		pb, err := e.prepareBallot(b)
		if err != nil {
			errs[i] = err
			continue
		}
		prepared[i] = pb
		for _, s := range pb.selections {
			if len(batch) == eg.MaxBatch {
				flush()
			}
			batch = append(batch, batchItem{ballot: i, b: b, sel: s})
		}
	}
	flush()
	for i, pb := range prepared {
		if pb != nil && errs[i] == nil {
			errs[i] = pb.contestProofs(e)
		}
	}
	return errs
}

type batchItem struct {
	ballot int // index into the results
	b      *SubmittedBallot
	sel    preparedSelection
}

// verifyBatch verifies the items' selection proofs, recording the first failure of each
// ballot in errs.
func (e *Election) verifyBatch(items []batchItem, errs []error) {
	for len(items) > 0 {
		// Proofs of ballots that already failed need no verifying.
		live := items[:0:0]
		for _, it := range items {
			if errs[it.ballot] == nil {
				live = append(live, it)
			}
		}
		if len(live) == 0 {
			return
		}
		batch := make([]eg.DisjunctiveItem, len(live))
		for i, it := range live {
			batch[i] = eg.DisjunctiveItem{Ciphertext: it.sel.ct, Proof: it.sel.proof}
		}
		err := e.Group.VerifyDisjunctiveBatch(batch, e.PublicKey, e.ExtendedBaseHash)
		if err == nil {
			return
		}
		var be *eg.BatchError
		if !errors.As(err, &be) || be.Index < 0 || be.Index >= len(live) {
			// No proof named: fall back to one at a time.
			for _, it := range live {
				if errs[it.ballot] == nil {
					if err := it.sel.proof.Verify(e.Group, it.sel.ct, e.PublicKey, e.ExtendedBaseHash); err != nil {
						errs[it.ballot] = e.selectionFailure(it.b, it.sel, err)
					}
				}
			}
			return
		}
		bad := live[be.Index]
		errs[bad.ballot] = e.selectionFailure(bad.b, bad.sel, be.Err)
		items = live[be.Index+1:]
	}
}
