package record

import (
	"math/big"
	"strings"
	"testing"
)

// TestTallyFromRecordRejects: reading a stored encrypted tally back refuses one that is
// not exactly the manifest's selections with subgroup elements, and says what is wrong.
func TestTallyFromRecordRejects(t *testing.T) {
	gen := generatedElection(t)
	e := gen.election
	ballots, _, _ := encryptBallots(t, gen, 3, 5)
	tally := e.NewTally()
	for _, b := range ballots {
		if err := tally.Add(b); err != nil {
			t.Fatal(err)
		}
	}
	valid := func() *CiphertextTally {
		var r CiphertextTally
		if err := unmarshal(mustMarshal(t, tally.Record("subtotal")), &r); err != nil {
			t.Fatal(err)
		}
		return &r
	}
	back, err := e.TallyFromRecord(valid())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mustMarshal(t, back.Record("subtotal")), mustMarshal(t, tally.Record("subtotal")); string(got) != string(want) {
		t.Fatal("a tally read back differs from the one written")
	}
	for _, tc := range []struct {
		name   string
		mutate func(r *CiphertextTally)
		want   string
	}{
		{"contest missing", func(r *CiphertextTally) { r.Contests = r.Contests[1:] }, "has 2 contests, the manifest 3"},
		{"unknown contest", func(r *CiphertextTally) { r.Contests[0].ObjectID = "sheriff" }, "contest sheriff is not in the manifest"},
		{"selection twice", func(r *CiphertextTally) {
			r.Contests[1].Selections[1] = r.Contests[1].Selections[0]
		}, "selection council-sel-0 is not in the manifest, appears twice"},
		{"description hash", func(r *CiphertextTally) {
			r.Contests[0].Selections[2].DescriptionHash = bump(r.Contests[0].Selections[2].DescriptionHash)
		}, "selection mayor-sel-2 is not in the manifest, appears twice or has another description hash"},
		{"pad not below p", func(r *CiphertextTally) {
			c := &r.Contests[2].Selections[1].Ciphertext
			c.Pad = HexFromBig(new(big.Int).Add(gen.g.P(), c.Pad.Big()))
		}, "selection measure-sel-1: pad: "},
		{"data outside the subgroup", func(r *CiphertextTally) {
			c := &r.Contests[2].Selections[0].Ciphertext
			c.Data = negate(gen.g, c.Data)
		}, "selection measure-sel-0 is not a pair of subgroup elements"},
	} {
		r := valid()
		tc.mutate(r)
		if _, err := e.TallyFromRecord(r); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: TallyFromRecord = %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// TestTallyBinaryRoundTrip: subtotals encoded with AppendBinary and merged with
// MergeBinary give the tally of all their ballots; a wrong length or a value not
// below p is refused.
func TestTallyBinaryRoundTrip(t *testing.T) {
	gen := generatedElection(t)
	e := gen.election
	ballots, _, _ := encryptBallots(t, gen, 6, 7)
	whole, a, b := e.NewTally(), e.NewTally(), e.NewTally()
	for i, bl := range ballots {
		if err := whole.Add(bl); err != nil {
			t.Fatal(err)
		}
		part := a
		if i%2 == 1 {
			part = b
		}
		if err := part.Add(bl); err != nil {
			t.Fatal(err)
		}
	}
	merged := e.NewTally()
	for _, part := range []*Tally{a, b} {
		if err := merged.MergeBinary(part.AppendBinary(nil)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := mustMarshal(t, merged.Record("t")), mustMarshal(t, whole.Record("t")); string(got) != string(want) {
		t.Fatal("merged encoded subtotals differ from the tally of all ballots")
	}
	enc := a.AppendBinary(nil)
	if err := merged.MergeBinary(enc[1:]); err == nil || !strings.Contains(err.Error(), "bytes, the manifest's selections need") {
		t.Errorf("short encoding: %v", err)
	}
	n := gen.g.PByteLen()
	copy(enc[:n], appendFixed(nil, gen.g.P().Bytes(), n))
	if err := merged.MergeBinary(enc); err == nil {
		t.Error("a value equal to p was accepted")
	}
}
