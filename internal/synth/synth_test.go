package synth_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/tallyq/tallyq/eg"
	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/internal/synth"
)

// testElection is one ceremony per test binary: RSA key generation is most
// of its cost.
var testElection = sync.OnceValues(func() (*synth.Election, error) {
	return synth.NewElection(eg.TestGroup(), synth.Options{Guardians: 5, Quorum: 3, Contests: 3, SelectionsPerContest: 4, Seed: 11})
})

func election(t *testing.T) *synth.Election {
	t.Helper()
	e, err := testElection()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// generate encrypts ballots and returns them in the order emitted.
func generate(t *testing.T, e *synth.Election, opts synth.BallotOptions) ([]*record.SubmittedBallot, *synth.Expected) {
	t.Helper()
	var out []*record.SubmittedBallot
	x, err := e.Generate(context.Background(), opts, func(b *record.SubmittedBallot) error {
		out = append(out, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, x
}

// The ballots are valid, come in order with exactly the spoiled ones asked
// for, and decrypting their tally with a quorum of guardians (two missing)
// gives Expected.Tally; each spoiled ballot decrypts to its expected votes.
func TestBallotsDecryptToExpected(t *testing.T) {
	e := election(t)
	ballots, want := generate(t, e, synth.BallotOptions{Count: 40, Spoiled: 6, Seed: 3, Workers: 3})
	if len(ballots) != 40 || want.Cast != 34 || want.Spoiled != 6 || len(want.SpoiledBallots) != 6 {
		t.Fatalf("%d ballots, expected %d cast and %d spoiled (%d spoiled plaintexts); want 40, 34, 6", len(ballots), want.Cast, want.Spoiled, len(want.SpoiledBallots))
	}
	tally := e.Election.NewTally()
	for i, err := range e.Election.ValidateBallots(ballots) {
		if err != nil {
			t.Fatalf("ballot %d: %v", i, err)
		}
		if ballots[i].ObjectID != synth.BallotID(i) {
			t.Fatalf("ballot %d is %s, want %s", i, ballots[i].ObjectID, synth.BallotID(i))
		}
		if err := tally.Add(ballots[i]); err != nil {
			t.Fatal(err)
		}
	}
	if tally.Cast() != want.Cast || tally.Spoiled() != want.Spoiled {
		t.Fatalf("tally counts %d cast, %d spoiled; expected %d and %d", tally.Cast(), tally.Spoiled(), want.Cast, want.Spoiled)
	}
	d, err := e.Election.NewDecryptor(e.Ceremony.Guardians, uint64(tally.Cast()))
	if err != nil {
		t.Fatal(err)
	}
	var trustees []*record.Trustee
	missing := []string{synth.GuardianID(3), synth.GuardianID(4)}
	for _, p := range e.Ceremony.Private[:3] {
		tr, err := d.NewTrustee(p, missing)
		if err != nil {
			t.Fatal(err)
		}
		trustees = append(trustees, tr)
	}
	decrypt := func(id string, cts []record.ContestCiphertexts) map[string]map[string]int64 {
		t.Helper()
		pt, err := d.Decrypt(id, cts, trustees)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]map[string]int64{}
		for _, c := range pt.Contests {
			got[c.ObjectID] = map[string]int64{}
			for _, s := range c.Selections {
				got[c.ObjectID][s.ObjectID] = s.Tally
			}
		}
		return got
	}
	cts, err := tally.Record("election-results").Ciphertexts(e.Group)
	if err != nil {
		t.Fatal(err)
	}
	assertVotes(t, "tally", decrypt("election-results", cts), want.Tally)
	var votes int64
	for _, c := range want.Tally {
		for _, v := range c {
			votes += v
		}
	}
	if votes == 0 {
		t.Fatal("the expected tally has no votes")
	}
	for _, b := range ballots {
		if b.State != record.BallotSpoiled {
			continue
		}
		cts, err := b.Ciphertexts(e.Group)
		if err != nil {
			t.Fatal(err)
		}
		assertVotes(t, b.ObjectID, decrypt(b.ObjectID, cts), want.SpoiledBallots[b.ObjectID])
	}
}

func assertVotes(t *testing.T, what string, got, want map[string]map[string]int64) {
	t.Helper()
	if !maps.EqualFunc(got, want, maps.Equal) {
		t.Errorf("%s decrypts to %v, want %v", what, got, want)
	}
}

// The plaintexts are a function of the seed and the index, whatever the
// number of workers, and the seed matters.
func TestPlaintextsFollowTheSeed(t *testing.T) {
	e := election(t)
	_, a := generate(t, e, synth.BallotOptions{Count: 30, Spoiled: 3, Seed: 5, Workers: 1})
	_, b := generate(t, e, synth.BallotOptions{Count: 30, Spoiled: 3, Seed: 5, Workers: 4})
	_, c := generate(t, e, synth.BallotOptions{Count: 30, Spoiled: 3, Seed: 6, Workers: 2})
	same := func(x, y *synth.Expected) bool {
		return maps.EqualFunc(x.Tally, y.Tally, maps.Equal) && len(x.SpoiledBallots) == len(y.SpoiledBallots)
	}
	if !same(a, b) {
		t.Errorf("seed 5 gives %v with one worker and %v with four", a.Tally, b.Tally)
	}
	if same(a, c) {
		t.Errorf("seeds 5 and 6 give the same tally %v", a.Tally)
	}
}

func TestSpoiledSpreadsExactly(t *testing.T) {
	for _, tc := range []struct{ count, spoiled int }{{10, 0}, {10, 1}, {10, 10}, {1000, 50}, {7, 3}} {
		n, last := 0, -1
		for i := range tc.count {
			if synth.Spoiled(i, tc.count, tc.spoiled) {
				n++
				last = i
			}
		}
		if n != tc.spoiled {
			t.Errorf("Spoiled over %d ballots marks %d, want %d", tc.count, n, tc.spoiled)
		}
		if tc.spoiled > 0 && last != tc.count-1 {
			t.Errorf("Spoiled over %d ballots, %d spoiled: the last is ballot %d, want the last ballot", tc.count, tc.spoiled, last)
		}
	}
}

// WriteNDJSON writes one decodable ballot per line, in order, reporting
// progress after each.
func TestWriteNDJSON(t *testing.T) {
	e := election(t)
	var buf bytes.Buffer
	var progress []int
	x, err := e.WriteNDJSON(context.Background(), &buf, synth.BallotOptions{Count: 12, Spoiled: 2, Seed: 1, Workers: 2,
		Progress: func(n int) { progress = append(progress, n) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(progress) != 12 || progress[0] != 1 || progress[11] != 12 {
		t.Errorf("progress reported %v, want 1 to 12", progress)
	}
	n := 0
	for b, err := range record.DecodeBallots(&buf) {
		if err != nil {
			t.Fatal(err)
		}
		if b.ObjectID != synth.BallotID(n) {
			t.Errorf("line %d holds %s, want %s", n+1, b.ObjectID, synth.BallotID(n))
		}
		n++
	}
	if n != 12 || x.Cast != 10 || x.Spoiled != 2 {
		t.Errorf("%d lines, %d cast, %d spoiled; want 12, 10, 2", n, x.Cast, x.Spoiled)
	}
}

// An emit error stops generation and is returned as is.
func TestGenerateStopsOnEmitError(t *testing.T) {
	e := election(t)
	stop := errors.New("stop")
	n := 0
	_, err := e.Generate(context.Background(), synth.BallotOptions{Count: 50, Workers: 2}, func(*record.SubmittedBallot) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Errorf("Generate returned %v after %d ballots; want the emit error after 3", err, n)
	}
}

func TestInvalidOptions(t *testing.T) {
	if _, err := synth.NewElection(eg.TestGroup(), synth.Options{Guardians: 2, Quorum: 3}); err == nil {
		t.Error("quorum 3 of 2 guardians accepted")
	}
	if _, err := election(t).Generate(context.Background(), synth.BallotOptions{Count: 2, Spoiled: 3}, nil); err == nil {
		t.Error("3 spoiled of 2 ballots accepted")
	}
}

// The manifest has the contests and selections asked for, two-seat
// contests where documented, and is valid.
func TestNewManifest(t *testing.T) {
	m := synth.NewManifest(4, 3)
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	var limits []int
	for _, c := range m.Contests {
		if len(c.BallotSelections) != 3 {
			t.Errorf("%s has %d selections, want 3", c.ObjectID, len(c.BallotSelections))
		}
		limits = append(limits, c.Limit())
	}
	if want := []int{1, 2, 1, 1}; !slices.Equal(limits, want) {
		t.Errorf("limits %v, want %v", limits, want)
	}
}

// BenchmarkGenerate measures encryption of the default ballot (three
// contests, 16 selections and placeholders) on every CPU.
func BenchmarkGenerate(b *testing.B) {
	for _, group := range []*eg.Group{eg.TestGroup(), eg.Standard()} {
		b.Run(group.Name(), func(b *testing.B) {
			e, err := synth.NewElection(group, synth.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			if _, err := e.Generate(context.Background(), synth.BallotOptions{Count: b.N}, func(*record.SubmittedBallot) error { return nil }); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ballots/s")
		})
	}
}
