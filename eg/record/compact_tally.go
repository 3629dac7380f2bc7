package record

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"github.com/tallyq/tallyq/eg"
)

// TallyBuffer multiplies cast ballots' selection ciphertexts, as a ViewDecoder reads
// them, into one product per selection held in integers that it reuses, so that adding
// a ballot allocates nothing (Tally.Add makes a new element for every product, a few
// KiB of garbage per selection). It checks what Tally.Add checks, and skips placeholders
// and spoiled ballots as it does; AddBinary multiplies in an encoded subtotal the same
// way, AppendBinary encodes the products as Tally.AppendBinary does, and MergeInto
// multiplies them into a Tally. It is not safe for concurrent use.
type TallyBuffer struct {
	e             *Election
	p             *big.Int
	pBytes        []byte                          // p as wide as the encoded subtotals' elements
	sums          map[string][]bufferedCiphertext // contest id -> per manifest selection, in manifest order
	x, prod, quo  big.Int                         // scratch of mul
	cast, spoiled int
}

// bufferedCiphertext is a selection's product so far.
type bufferedCiphertext struct{ pad, data big.Int }

// NewTallyBuffer returns an empty buffer: every product 1.
func (e *Election) NewTallyBuffer() *TallyBuffer {
	p := e.Group.P()
	t := &TallyBuffer{e: e, p: p, pBytes: p.FillBytes(make([]byte, e.Group.PByteLen())),
		sums: make(map[string][]bufferedCiphertext, len(e.Manifest.Contests))}
	for _, c := range e.Manifest.Contests {
		sums := make([]bufferedCiphertext, len(c.BallotSelections))
		for i := range sums {
			sums[i].pad.SetInt64(1)
			sums[i].data.SetInt64(1)
		}
		t.sums[c.ObjectID] = sums
	}
	return t
}

// Add multiplies a cast ballot's selections into the products, skipping placeholders; a
// spoiled ballot is counted but not added. The ballot's contests and selections must be
// in the manifest, or nothing is added; a ballot in state UNKNOWN is an error.
func (t *TallyBuffer) Add(v *CiphertextView) error {
	switch v.State {
	case BallotSpoiled:
		t.spoiled++
		return nil
	case BallotCast:
	default:
		return fmt.Errorf("ballot %s: state %v is neither cast nor spoiled", v.ObjectID, v.State)
	}
	for _, c := range v.Contests {
		info, ok := t.e.contests[c.ObjectID]
		if !ok {
			return fmt.Errorf("ballot %s: contest %s is not in the manifest", v.ObjectID, c.ObjectID)
		}
		for _, s := range c.Selections {
			if _, ok := info.index[s.ObjectID]; !ok {
				return fmt.Errorf("ballot %s: contest %s: selection %s is not in the manifest", v.ObjectID, c.ObjectID, s.ObjectID)
			}
		}
	}
	for _, c := range v.Contests {
		info, sums := t.e.contests[c.ObjectID], t.sums[c.ObjectID]
		for _, s := range c.Selections {
			i := info.index[s.ObjectID]
			if info.selections[i].placeholder {
				continue
			}
			t.mul(&sums[i].pad, s.Pad)
			t.mul(&sums[i].data, s.Data)
		}
	}
	t.cast++
	return nil
}

// mul sets acc to acc·x mod p, x being big-endian bytes, in the buffer's scratch
// integers, whose arrays are reused once they have grown.
func (t *TallyBuffer) mul(acc *big.Int, x []byte) {
	t.x.SetBytes(x)
	t.prod.Mul(acc, &t.x)
	t.quo.QuoRem(&t.prod, t.p, acc)
}

// AddBinary multiplies a tally that Tally.AppendBinary encoded for the same election
// (a stored subtotal) into the products, with Tally.MergeBinary's checks (the length,
// every value below p, not subgroup membership) made before anything is multiplied. The
// encoding carries no counts.
func (t *TallyBuffer) AddBinary(data []byte) error {
	n := t.e.Group.PByteLen()
	if want := t.binaryLen(); len(data) != want {
		return fmt.Errorf("encoded tally has %d bytes, the manifest's selections need %d", len(data), want)
	}
	for off := 0; off < len(data); off += n {
		if bytes.Compare(data[off:off+n], t.pBytes) >= 0 {
			return fmt.Errorf("encoded tally: the value at byte %d is not below p", off)
		}
	}
	for _, c := range t.e.Manifest.Contests {
		sums := t.sums[c.ObjectID]
		for i := range sums {
			t.mul(&sums[i].pad, data[:n])
			t.mul(&sums[i].data, data[n:2*n])
			data = data[2*n:]
		}
	}
	return nil
}

// AppendBinary appends the products to dst as Tally.AppendBinary encodes a tally (the
// bytes a Tally merged from this buffer alone appends), without making elements of them.
func (t *TallyBuffer) AppendBinary(dst []byte) []byte {
	n := t.e.Group.PByteLen()
	dst = slices.Grow(dst, t.binaryLen())
	for _, c := range t.e.Manifest.Contests {
		sums := t.sums[c.ObjectID]
		for i := range sums {
			dst = appendFilled(dst, &sums[i].pad, n)
			dst = appendFilled(dst, &sums[i].data, n)
		}
	}
	return dst
}

// appendFilled appends x as width big-endian bytes to dst, which has room for them.
func appendFilled(dst []byte, x *big.Int, width int) []byte {
	end := len(dst) + width
	x.FillBytes(dst[len(dst):end])
	return dst[:end]
}

// binaryLen is the length of the binary encoding of a tally of the buffer's election.
func (t *TallyBuffer) binaryLen() int {
	selections := 0
	for _, sums := range t.sums {
		selections += len(sums)
	}
	return 2 * t.e.Group.PByteLen() * selections
}

// Cast is the number of cast ballots added.
func (t *TallyBuffer) Cast() int { return t.cast }

// MergeInto multiplies the products into dst, a tally of the same election, and adds
// the buffer's cast and spoiled counts to dst's. The buffer is unchanged.
func (t *TallyBuffer) MergeInto(dst *Tally) error {
	if dst.e != t.e {
		return errors.New("record: a tally buffer merges only into a tally of its own election")
	}
	g := t.e.Group
	for id, sums := range t.sums {
		cts := dst.sums[id]
		for i := range sums {
			pad, err1 := g.ElementModPFromBig(&sums[i].pad)
			data, err2 := g.ElementModPFromBig(&sums[i].data)
			if err := errors.Join(err1, err2); err != nil {
				return fmt.Errorf("record: tally buffer contest %s selection %d: %w", id, i, err)
			}
			cts[i] = g.AddCiphertexts(cts[i], eg.Ciphertext{Pad: pad, Data: data})
		}
	}
	dst.AddCounts(t.cast, t.spoiled)
	return nil
}
