package record

import (
	"errors"
	"fmt"

	"github.com/tallyq/tallyq/eg"
)

// Tally accumulates an encrypted tally: for every selection of the manifest (not the
// placeholders), the product of the cast ballots' ciphertexts. Its memory is one
// ciphertext per selection, whatever the number of ballots. It is not safe for concurrent
// use; accumulate per worker and Merge.
type Tally struct {
	e       *Election
	sums    map[string][]eg.Ciphertext // contest id -> per manifest selection, in manifest order
	cast    int
	spoiled int
}

// NewTally returns an empty tally: every selection (1, 1).
func (e *Election) NewTally() *Tally {
	one := e.Group.OneP()
	t := &Tally{e: e, sums: make(map[string][]eg.Ciphertext, len(e.Manifest.Contests))}
	for _, c := range e.Manifest.Contests {
		cts := make([]eg.Ciphertext, len(c.BallotSelections))
		for i := range cts {
			cts[i] = eg.Ciphertext{Pad: one, Data: one}
		}
		t.sums[c.ObjectID] = cts
	}
	return t
}

// Cast is the number of cast ballots added.
func (t *Tally) Cast() int { return t.cast }

// Spoiled is the number of spoiled ballots seen (not added).
func (t *Tally) Spoiled() int { return t.spoiled }

// Add multiplies a cast ballot's selections into the tally, skipping placeholders; a
// spoiled ballot is counted but not added. The ballot should have been validated: Add
// checks only that its contests and selections exist and its values are in range, and
// adds nothing when they are not. A ballot in state UNKNOWN is an error.
func (t *Tally) Add(b *SubmittedBallot) error {
	switch b.State {
	case BallotSpoiled:
		t.spoiled++
		return nil
	case BallotCast:
	default:
		return fmt.Errorf("ballot %s: state %v is neither cast nor spoiled", b.ObjectID, b.State)
	}
	type term struct {
		cts []eg.Ciphertext
		i   int
		ct  eg.Ciphertext
	}
	var terms []term
	for _, c := range b.Contests {
		info, ok := t.e.contests[c.ObjectID]
		if !ok {
			return fmt.Errorf("ballot %s: contest %s is not in the manifest", b.ObjectID, c.ObjectID)
		}
		for _, s := range c.BallotSelections {
			i, ok := info.index[s.ObjectID]
			if !ok {
				return fmt.Errorf("ballot %s: contest %s: selection %s is not in the manifest", b.ObjectID, c.ObjectID, s.ObjectID)
			}
			if info.selections[i].placeholder {
				continue
			}
			ct, err := s.Ciphertext.Elements(t.e.Group)
			if err != nil {
				return fmt.Errorf("ballot %s: contest %s: selection %s: %w", b.ObjectID, c.ObjectID, s.ObjectID, err)
			}
			terms = append(terms, term{t.sums[c.ObjectID], i, ct})
		}
	}
	for _, x := range terms {
		x.cts[x.i] = t.e.Group.AddCiphertexts(x.cts[x.i], x.ct)
	}
	t.cast++
	return nil
}

// Merge multiplies another tally of the same election into this one.
func (t *Tally) Merge(o *Tally) {
	for id, cts := range t.sums {
		for i := range cts {
			cts[i] = t.e.Group.AddCiphertexts(cts[i], o.sums[id][i])
		}
	}
	t.cast += o.cast
	t.spoiled += o.spoiled
}

// Ciphertext returns a selection's product.
func (t *Tally) Ciphertext(contestID, selectionID string) (eg.Ciphertext, bool) {
	info, ok := t.e.contests[contestID]
	if !ok {
		return eg.Ciphertext{}, false
	}
	i, ok := info.index[selectionID]
	if !ok || info.selections[i].placeholder {
		return eg.Ciphertext{}, false
	}
	return t.sums[contestID][i], true
}

// Record returns the tally as encrypted_tally.json writes it (object_id "election-results"
// in 1.x), contests and selections in manifest order.
func (t *Tally) Record(objectID string) *CiphertextTally {
	out := &CiphertextTally{ObjectID: objectID, Contests: Keyed[CiphertextTallyContest]{}}
	for i := range t.e.Manifest.Contests {
		c := &t.e.Manifest.Contests[i]
		info := t.e.contests[c.ObjectID]
		rc := CiphertextTallyContest{ObjectID: c.ObjectID, SequenceOrder: c.SequenceOrder,
			DescriptionHash: HexQ(info.hash), Selections: Keyed[CiphertextTallySelection]{}}
		for j, s := range c.BallotSelections {
			rc.Selections = append(rc.Selections, CiphertextTallySelection{ObjectID: s.ObjectID, SequenceOrder: s.SequenceOrder,
				DescriptionHash: HexQ(info.selections[j].hash), Ciphertext: CiphertextOf(t.sums[c.ObjectID][j])})
		}
		out.Contests = append(out.Contests, rc)
	}
	return out
}

// TallyFromRecord reads an encrypted tally (a published one, or a stored subtotal) back
// into a Tally, checking it has exactly the manifest's contests and selections with their
// description hashes, and every element in the order-q subgroup. Its cast and spoiled
// counts are 0: the record does not carry them.
func (e *Election) TallyFromRecord(r *CiphertextTally) (*Tally, error) {
	t := e.NewTally()
	if len(r.Contests) != len(e.Manifest.Contests) {
		return nil, fmt.Errorf("encrypted tally has %d contests, the manifest %d", len(r.Contests), len(e.Manifest.Contests))
	}
	for _, rc := range r.Contests {
		info, ok := e.contests[rc.ObjectID]
		if !ok || !rc.DescriptionHash.Equal(HexQ(info.hash)) {
			return nil, fmt.Errorf("encrypted tally contest %s is not in the manifest or has another description hash", rc.ObjectID)
		}
		if len(rc.Selections) != len(info.desc.BallotSelections) {
			return nil, fmt.Errorf("encrypted tally contest %s has %d selections, the manifest %d", rc.ObjectID, len(rc.Selections), len(info.desc.BallotSelections))
		}
		seen := make(map[string]bool, len(rc.Selections))
		for _, rs := range rc.Selections {
			i, ok := info.index[rs.ObjectID]
			if !ok || seen[rs.ObjectID] || info.selections[i].placeholder || !rs.DescriptionHash.Equal(HexQ(info.selections[i].hash)) {
				return nil, fmt.Errorf("encrypted tally contest %s: selection %s is not in the manifest, appears twice or has another description hash", rc.ObjectID, rs.ObjectID)
			}
			seen[rs.ObjectID] = true
			ct, err := rs.Ciphertext.Elements(e.Group)
			if err != nil {
				return nil, fmt.Errorf("encrypted tally contest %s: selection %s: %w", rc.ObjectID, rs.ObjectID, err)
			}
			if !e.Group.InSubgroup(ct.Pad) || !e.Group.InSubgroup(ct.Data) {
				return nil, fmt.Errorf("encrypted tally contest %s: selection %s is not a pair of subgroup elements", rc.ObjectID, rs.ObjectID)
			}
			t.sums[rc.ObjectID][i] = ct
		}
	}
	return t, nil
}

// AppendBinary appends the tally's ciphertexts to dst: every selection of every contest
// in manifest order, α then β, each as Group.PByteLen big-endian bytes. MergeBinary reads
// it back; tallyq stores a chunk's subtotal this way.
func (t *Tally) AppendBinary(dst []byte) []byte {
	n := t.e.Group.PByteLen()
	for _, c := range t.e.Manifest.Contests {
		for _, ct := range t.sums[c.ObjectID] {
			dst = appendFixed(dst, ct.Pad.Bytes(), n)
			dst = appendFixed(dst, ct.Data.Bytes(), n)
		}
	}
	return dst
}

func appendFixed(dst, b []byte, width int) []byte {
	for range width - len(b) {
		dst = append(dst, 0)
	}
	return append(dst, b...)
}

// MergeBinary multiplies a tally that AppendBinary encoded for the same election into t.
// It checks the length and that every value is below p, but not subgroup membership: it
// is for subtotals computed by this program from validated ballots, not for input from
// outside (use TallyFromRecord for that).
func (t *Tally) MergeBinary(data []byte) error {
	g := t.e.Group
	n := g.PByteLen()
	want := 0
	for _, c := range t.e.Manifest.Contests {
		want += 2 * n * len(t.sums[c.ObjectID])
	}
	if len(data) != want {
		return fmt.Errorf("encoded tally has %d bytes, the manifest's selections need %d", len(data), want)
	}
	off := 0
	next := func() (eg.ElementModP, error) {
		x, err := g.ElementModPFromBytes(data[off : off+n])
		off += n
		return x, err
	}
	for _, c := range t.e.Manifest.Contests {
		cts := t.sums[c.ObjectID]
		for i := range cts {
			pad, err1 := next()
			d, err2 := next()
			if err := errors.Join(err1, err2); err != nil {
				return fmt.Errorf("encoded tally: contest %s selection %d: %w", c.ObjectID, i, err)
			}
			cts[i] = g.AddCiphertexts(cts[i], eg.Ciphertext{Pad: pad, Data: d})
		}
	}
	return nil
}

// AddCounts adds to the tally's cast and spoiled counts, for a tally merged from
// encoded subtotals, which do not carry them.
func (t *Tally) AddCounts(cast, spoiled int) {
	t.cast += cast
	t.spoiled += spoiled
}
