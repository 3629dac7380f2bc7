package record

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestTallyBufferAgreesWithTally adds generated ballots (cast and spoiled, with
// placeholders) to a Tally one by one and, through their compact views, half to the
// same Tally and half to a TallyBuffer merged into it: the products and counts match.
func TestTallyBufferAgreesWithTally(t *testing.T) {
	gen := generatedElection(t)
	ballots, _, _ := encryptBallots(t, gen, 12, 3)
	want, got := gen.election.NewTally(), gen.election.NewTally()
	buf := gen.election.NewTallyBuffer()
	d := NewViewDecoder(gen.g)
	for i, b := range ballots {
		if err := want.Add(b); err != nil {
			t.Fatal(err)
		}
		if i < len(ballots)/2 {
			if err := got.Add(b); err != nil {
				t.Fatal(err)
			}
			continue
		}
		v, err := d.Decode(mustEncodeCompact(t, gen.g, b))
		if err != nil {
			t.Fatal(err)
		}
		if err := buf.Add(v); err != nil {
			t.Fatal(err)
		}
	}
	alone := gen.election.NewTally()
	for _, tally := range []*Tally{got, alone} {
		if err := buf.MergeInto(tally); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got.AppendBinary(nil), want.AppendBinary(nil)) {
		t.Error("the buffer's products merged into a tally differ from the tally of every ballot")
	}
	if !bytes.Equal(buf.AppendBinary([]byte("prefix")), append([]byte("prefix"), alone.AppendBinary(nil)...)) {
		t.Error("the buffer's encoding differs from that of a tally merged from it alone")
	}
	if got.Cast() != want.Cast() || got.Spoiled() != want.Spoiled() || want.Cast() != 8 {
		t.Errorf("cast %d, spoiled %d; want %d and %d (8 of 12 cast)", got.Cast(), got.Spoiled(), want.Cast(), want.Spoiled())
	}
}

// TestTallyBufferRefuses: a ballot naming a contest or selection the manifest lacks, or
// in state UNKNOWN, is an error and adds nothing, not even the selections before the
// one refused; a buffer merges only into its own election's tally.
func TestTallyBufferRefuses(t *testing.T) {
	gen := generatedElection(t)
	ballots, _, _ := encryptBallots(t, gen, 1, 4)
	data := mustEncodeCompact(t, gen.g, ballots[0])
	buf := gen.election.NewTallyBuffer()
	empty := merged(t, buf, gen.election)
	for _, tc := range []struct {
		name   string
		change func(v *CiphertextView)
		want   string
	}{
		{"unknown contest", func(v *CiphertextView) { v.Contests[len(v.Contests)-1].ObjectID = "nope" }, "contest nope is not in the manifest"},
		{"unknown selection", func(v *CiphertextView) {
			c := &v.Contests[len(v.Contests)-1]
			c.Selections[len(c.Selections)-1].ObjectID = "nope"
		}, "selection nope is not in the manifest"},
		{"unknown state", func(v *CiphertextView) { v.State = BallotUnknown }, "neither cast nor spoiled"},
	} {
		v, err := NewViewDecoder(gen.g).Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		tc.change(v)
		if err := buf.Add(v); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
		if !bytes.Equal(merged(t, buf, gen.election), empty) || buf.Cast() != 0 {
			t.Errorf("%s: the refused ballot changed the buffer", tc.name)
		}
	}
	other, err := NewElection(gen.g, gen.manifest, gen.cer.Context)
	if err != nil {
		t.Fatal(err)
	}
	if err := buf.MergeInto(other.NewTally()); err == nil {
		t.Error("a buffer merged into another election's tally")
	}
}

// merged is buf merged into a new tally of e, encoded.
func merged(t *testing.T, buf *TallyBuffer, e *Election) []byte {
	t.Helper()
	tally := e.NewTally()
	if err := buf.MergeInto(tally); err != nil {
		t.Fatal(err)
	}
	return tally.AppendBinary(nil)
}

// TestTallyBufferAddBinary: subtotals encoded by Tally.AppendBinary multiply into a
// buffer as Tally.MergeBinary multiplies them into a tally; a subtotal of the wrong
// length or holding a value not below p is refused (as MergeBinary refuses it) and
// adds nothing.
func TestTallyBufferAddBinary(t *testing.T) {
	gen := generatedElection(t)
	ballots, _, _ := encryptBallots(t, gen, 9, 6)
	want, buf := gen.election.NewTally(), gen.election.NewTallyBuffer()
	for _, part := range [][]*SubmittedBallot{ballots[:4], ballots[4:]} {
		sub := gen.election.NewTally()
		for _, b := range part {
			if err := sub.Add(b); err != nil {
				t.Fatal(err)
			}
		}
		enc := sub.AppendBinary(nil)
		if err := want.MergeBinary(enc); err != nil {
			t.Fatal(err)
		}
		if err := buf.AddBinary(enc); err != nil {
			t.Fatal(err)
		}
	}
	before := merged(t, buf, gen.election)
	if !bytes.Equal(before, want.AppendBinary(nil)) {
		t.Error("subtotals added to a buffer differ from those merged into a tally")
	}
	valid := want.AppendBinary(nil)
	n := gen.g.PByteLen()
	notBelowP := bytes.Clone(valid)
	gen.g.P().FillBytes(notBelowP[len(valid)-n:])
	for name, data := range map[string][]byte{"short": valid[:len(valid)-1], "long": append(bytes.Clone(valid), 0), "not below p": notBelowP} {
		if err := buf.AddBinary(data); err == nil {
			t.Errorf("%s: a buffer took the subtotal", name)
		}
		if err := gen.election.NewTally().MergeBinary(data); err == nil {
			t.Errorf("%s: Tally.MergeBinary took the subtotal the buffer refuses", name)
		}
		if !bytes.Equal(merged(t, buf, gen.election), before) {
			t.Errorf("%s: the refused subtotal changed the buffer", name)
		}
	}
}

// BenchmarkTallyCompactBallots multiplies the small fixture's stored (compact) 4096-bit
// ballots into a tally two ways, in the same run: decoded in full and added to a Tally
// (what a verified tally does after validation), and read through a ViewDecoder into a
// TallyBuffer (an unverified tally). It reports each way's bytes allocated and time
// per ballot, and the ratios.
func BenchmarkTallyCompactBallots(b *testing.B) {
	fx := loadFixture(b, "small")
	var stored [][]byte
	for _, ballot := range fx.ballots {
		stored = append(stored, mustEncodeCompact(b, standard, ballot))
	}
	tally, buf, d := fx.election.NewTally(), fx.election.NewTallyBuffer(), NewViewDecoder(standard)
	full := func() {
		for _, data := range stored {
			ballot, err := DecodeCompact(standard, data)
			if err == nil {
				err = tally.Add(ballot)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	view := func() {
		for _, data := range stored {
			v, err := d.Decode(data)
			if err == nil {
				err = buf.Add(v)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	var fullTime, viewTime time.Duration
	var fullBytes, viewBytes uint64
	for b.Loop() {
		t, a := measure(full)
		fullTime, fullBytes = fullTime+t, fullBytes+a
		t, a = measure(view)
		viewTime, viewBytes = viewTime+t, viewBytes+a
	}
	n := float64(b.N * len(stored))
	b.ReportMetric(float64(fullBytes)/n, "full-B/ballot")
	b.ReportMetric(float64(viewBytes)/n, "view-B/ballot")
	b.ReportMetric(float64(fullTime.Microseconds())/n, "full-µs/ballot")
	b.ReportMetric(float64(viewTime.Microseconds())/n, "view-µs/ballot")
	b.ReportMetric(float64(fullTime)/float64(viewTime), "full/view-time")
}

// measure runs f and returns its time and the bytes the process allocated meanwhile.
func measure(f func()) (time.Duration, uint64) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	f()
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	return elapsed, after.TotalAlloc - before.TotalAlloc
}
