package eg

import "fmt"

// MaxBatch is the most proofs VerifyDisjunctiveBatch combines at once; longer
// inputs are verified in consecutive batches, so memory stays flat.
const MaxBatch = 64

// DisjunctiveItem is one selection's ciphertext and 0/1 proof to verify.
type DisjunctiveItem struct {
	Ciphertext Ciphertext
	Proof      DisjunctiveProof
}

// BatchError names the first invalid item of a batch (its index in the input)
// and why it is invalid.
type BatchError struct {
	Index int
	Err   error
}

func (e *BatchError) Error() string { return fmt.Sprintf("eg: proof %d: %v", e.Index, e.Err) }

func (e *BatchError) Unwrap() error { return e.Err }

// VerifyDisjunctiveBatch verifies every item's proof under public key K and
// extended base hash Q̄, with the same outcome as calling Verify on each, and
// returns a *BatchError naming the first invalid one.
func (g *Group) VerifyDisjunctiveBatch(items []DisjunctiveItem, k *FixedBase, qbar ElementModQ) error {
	for i, it := range items {
		if err := it.Proof.Verify(g, it.Ciphertext, k, qbar); err != nil {
			return &BatchError{Index: i, Err: err}
		}
	}
	return nil
}
