package record

import (
	"errors"

	"github.com/tallyq/tallyq/eg"
)

// EncodeTallyForm encodes what a tally that does not verify reads of b: EncodeCompact's
// encoding of a copy of b without its proofs, nonces and extended data. A ViewDecoder
// reads it into the same view as b's full encoding, from about a third of the bytes
// (a selection's proof holds four elements mod p to its ciphertext's two), so that a
// store can keep it beside the full encoding and an unverified tally reads less. b is
// not changed.
func EncodeTallyForm(g *eg.Group, b *SubmittedBallot) ([]byte, error) {
	if b == nil {
		return nil, errors.New("record: cannot encode a nil ballot's tally form")
	}
	t := *b
	t.Nonce = nil
	t.Contests = stripped(b.Contests, func(c BallotContest) BallotContest {
		c.Nonce, c.Proof = nil, nil
		c.BallotSelections = stripped(c.BallotSelections, func(s BallotSelection) BallotSelection {
			s.Nonce, s.Proof, s.ExtendedData = nil, nil, nil
			return s
		})
		return c
	})
	return EncodeCompact(g, &t)
}

// stripped returns a copy of s with strip applied to each element, nil when s is nil (the
// format tells a null list from an empty one).
func stripped[T any](s []T, strip func(T) T) []T {
	if s == nil {
		return nil
	}
	out := make([]T, len(s))
	for i, v := range s {
		out[i] = strip(v)
	}
	return out
}
