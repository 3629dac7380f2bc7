package record

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/tallyq/tallyq/eg"
)

// viewAgrees decodes data with DecodeCompact and with d, and says how they disagree
// (nil when they do not): both must refuse it with the same *CompactError, or the view
// must carry the decoded ballot's id, state, contest and selection ids and every
// selection's ciphertext as fixed-width bytes.
func viewAgrees(g *eg.Group, d *ViewDecoder, data []byte) error {
	b, err := DecodeCompact(g, data)
	v, verr := d.Decode(data)
	if err != nil || verr != nil {
		var ce, vce *CompactError
		if !errors.As(err, &ce) || !errors.As(verr, &vce) || ce.Error() != vce.Error() {
			return fmt.Errorf("DecodeCompact gives %v, the view decoder %v", err, verr)
		}
		return nil
	}
	return viewMatches(g, v, b)
}

// viewMatches says how v differs from ballot b's id, state, contest and
// selection ids and selection ciphertexts (nil when it does not).
func viewMatches(g *eg.Group, v *CiphertextView, b *SubmittedBallot) error {
	if v.ObjectID != b.ObjectID || v.State != b.State || len(v.Contests) != len(b.Contests) {
		return fmt.Errorf("view %q %v with %d contests, ballot %q %v with %d", v.ObjectID, v.State, len(v.Contests), b.ObjectID, b.State, len(b.Contests))
	}
	width := g.PByteLen()
	for i, c := range b.Contests {
		vc := v.Contests[i]
		if vc.ObjectID != c.ObjectID || len(vc.Selections) != len(c.BallotSelections) {
			return fmt.Errorf("contest %d: view %q with %d selections, ballot %q with %d", i, vc.ObjectID, len(vc.Selections), c.ObjectID, len(c.BallotSelections))
		}
		for j, s := range c.BallotSelections {
			vs := vc.Selections[j]
			pad, data := s.Ciphertext.Pad.Big().FillBytes(make([]byte, width)), s.Ciphertext.Data.Big().FillBytes(make([]byte, width))
			if vs.ObjectID != s.ObjectID || !bytes.Equal(vs.Pad, pad) || !bytes.Equal(vs.Data, data) {
				return fmt.Errorf("contest %d selection %d: the view's id or ciphertext is not the ballot's (%q, %q)", i, j, vs.ObjectID, s.ObjectID)
			}
		}
	}
	return nil
}

// TestViewDecoderAgrees reads, with one decoder per group (so reusing its memory across
// ballots of other shapes), the format's sample, an empty ballot, generated ballots,
// every proper prefix of the sample and the sample with each byte set to 0 and to 0xff,
// and checks each against DecodeCompact.
func TestViewDecoderAgrees(t *testing.T) {
	gen := generatedElection(t)
	g := gen.g
	d := NewViewDecoder(g)
	sample := mustEncodeCompact(t, g, compactSample(g))
	inputs := [][]byte{sample, mustEncodeCompact(t, g, &SubmittedBallot{State: BallotCast}), sample}
	ballots, _, _ := encryptBallots(t, gen, 6, 5)
	for _, b := range ballots {
		inputs = append(inputs, mustEncodeCompact(t, g, b))
	}
	inputs = append(inputs, sample)
	for n := range len(sample) {
		inputs = append(inputs, sample[:n])
	}
	for i := range sample {
		inputs = append(inputs, splice(sample, i, 1, 0), splice(sample, i, 1, 0xff))
	}
	refused := 0
	for i, data := range inputs {
		if err := viewAgrees(g, d, data); err != nil {
			t.Fatalf("input %d (%d bytes): %v", i, len(data), err)
		}
		if _, err := DecodeCompact(g, data); err != nil {
			refused++
		}
	}
	if refused < len(sample) || refused == len(inputs) {
		t.Errorf("%d of %d inputs refused: the corruptions do not exercise both outcomes", refused, len(inputs))
	}
}

// TestViewDecoderFixtureBallots checks the view of every 4096-bit fixture ballot, with one
// decoder, against DecodeCompact.
func TestViewDecoderFixtureBallots(t *testing.T) {
	d := NewViewDecoder(standard)
	for _, set := range fixtureSets {
		for _, b := range loadFixture(t, set).ballots {
			if err := viewAgrees(standard, d, mustEncodeCompact(t, standard, b)); err != nil {
				t.Errorf("%s %s: %v", set, b.ObjectID, err)
			}
		}
	}
}

// TestViewDecoderReusesMemory: once it has read a ballot, reading ballots of the same
// shape and ids allocates nothing.
func TestViewDecoderReusesMemory(t *testing.T) {
	gen := generatedElection(t)
	ballots, _, _ := encryptBallots(t, gen, 1, 9)
	data := mustEncodeCompact(t, gen.g, ballots[0])
	d := NewViewDecoder(gen.g)
	if allocs := testing.AllocsPerRun(20, func() {
		if _, err := d.Decode(data); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("reading a ballot allocates %.1f times, want 0", allocs)
	}
}

func mustEncodeCompact(t testing.TB, g *eg.Group, b *SubmittedBallot) []byte {
	t.Helper()
	data, err := EncodeCompact(g, b)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
