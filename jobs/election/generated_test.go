package election

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"testing"

	"github.com/tallyq/tallyq/eg"
	"github.com/tallyq/tallyq/internal/synth"
)

// Generated elections through every stage, guardians 1–3 decrypting on the
// server and 4–5 missing: the results equal the voters' known choices.
func TestGeneratedElection(t *testing.T) {
	t.Run("test group, 2000 ballots", func(t *testing.T) {
		t.Parallel()
		runGenerated(t, eg.TestGroup(), 2000, 40, 100)
	})
	t.Run("standard group, 200 ballots", func(t *testing.T) {
		t.Parallel()
		if testing.Short() {
			t.Skip("4096-bit: skipped with -short")
		}
		runGenerated(t, eg.Standard(), 200, 10, 25)
	})
}

func runGenerated(t *testing.T, g *eg.Group, ballots, spoiled, chunkSize int) {
	ctx := context.Background()
	syn, err := synth.NewElection(g, synth.Options{Guardians: 5, Quorum: 3, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	const encryptors = 2
	h := newHarness(t, harnessOptions{chunkSize: chunkSize})
	id, err := h.svc.Create(ctx, &Definition{Group: g, Manifest: syn.Manifest, Context: syn.Ceremony.Context,
		Guardians: syn.Ceremony.Guardians, Devices: syn.Devices(encryptors), CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	expected := make(chan *synth.Expected, 1)
	go func() {
		exp, err := syn.WriteNDJSON(ctx, pw, synth.BallotOptions{Count: ballots, Spoiled: spoiled, Seed: 3, Workers: encryptors})
		pw.CloseWithError(err)
		expected <- exp
	}()
	rep, err := h.svc.IngestBallots(ctx, id, pr)
	if err != nil {
		t.Fatal(err)
	}
	want := <-expected
	if rep.Stored != ballots || rep.Rejected != 0 {
		t.Fatalf("ingest: %+v", rep)
	}
	tally, err := h.svc.StartTally(ctx, id, "test")
	if err != nil {
		t.Fatal(err)
	}
	h.wait(tally.Job.JobID)
	for i, p := range syn.Ceremony.Private[:3] {
		raw, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		d, err := h.svc.StartDecryption(ctx, id, synth.GuardianID(i), raw, "test")
		if err != nil {
			t.Fatal(err)
		}
		h.wait(d.Job.JobID)
	}
	combine, err := h.svc.StartCombine(ctx, id, "test")
	if err != nil {
		t.Fatal(err)
	}
	h.wait(combine.Job.JobID)
	res, err := h.svc.Results(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if diff := compareResults(res, want); diff != "" {
		t.Fatal(diff)
	}
	if _, rep := h.verifyExport(id); rep.CastBallots != want.Cast || len(rep.MissingGuardians) != 2 {
		t.Fatalf("the verifier saw %d cast ballots and missing guardians %v", rep.CastBallots, rep.MissingGuardians)
	}
	if res.BallotsCast != int64(want.Cast) || res.BallotsSpoiled != int64(want.Spoiled) || res.BallotsInvalid != 0 {
		t.Fatalf("counts: %d cast, %d spoiled, %d invalid; want %d, %d, 0", res.BallotsCast, res.BallotsSpoiled, res.BallotsInvalid, want.Cast, want.Spoiled)
	}
}

// compareResults names the first difference between results and what the
// voters chose, or returns "".
func compareResults(res *Results, want *synth.Expected) string {
	n := 0
	for _, c := range res.Contests {
		for _, s := range c.Selections {
			if w, ok := want.Tally[c.ContestID][s.SelectionID]; !ok || w != s.Votes {
				return fmt.Sprintf("contest %s selection %s: %d votes, the voters cast %d", c.ContestID, s.SelectionID, s.Votes, w)
			}
			n++
		}
	}
	wantN := 0
	for _, c := range want.Tally {
		wantN += len(c)
	}
	if n != wantN {
		return fmt.Sprintf("results have %d selections, the manifest %d", n, wantN)
	}
	if len(res.SpoiledBallots) != len(want.SpoiledBallots) {
		return fmt.Sprintf("%d spoiled ballots decrypted, %d spoiled", len(res.SpoiledBallots), len(want.SpoiledBallots))
	}
	for _, b := range res.SpoiledBallots {
		for _, c := range b.Contests {
			for _, s := range c.Selections {
				if w, ok := want.SpoiledBallots[b.BallotID][c.ContestID][s.SelectionID]; !ok || w != s.Vote {
					return fmt.Sprintf("spoiled ballot %s contest %s selection %s: %d, the voter chose %d", b.BallotID, c.ContestID, s.SelectionID, s.Vote, w)
				}
			}
		}
	}
	return ""
}
