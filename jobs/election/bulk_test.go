package election

import (
	"context"
	"errors"
	"iter"
	"testing"

	"github.com/tallyq/tallyq/eg"
	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/internal/synth"
)

// IngestChecked loads checked ballots into an empty election, which then
// tallies like an uploaded one; it refuses an election that has ballots.
func TestIngestChecked(t *testing.T) {
	ctx := context.Background()
	g := eg.TestGroup()
	syn, err := synth.NewElection(g, synth.Options{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	var ballots []*record.SubmittedBallot
	want, err := syn.Generate(ctx, synth.BallotOptions{Count: 12, Spoiled: 2, Seed: 1, Workers: 1}, func(b *record.SubmittedBallot) error {
		ballots = append(ballots, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, harnessOptions{chunkSize: 5})
	id, err := h.svc.Create(ctx, &Definition{Group: g, Manifest: syn.Manifest, Context: syn.Ceremony.Context,
		Guardians: syn.Ceremony.Guardians, Devices: syn.Devices(1), CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	all := func(yield func(*record.SubmittedBallot, error) bool) {
		for _, b := range ballots {
			if !yield(b, nil) {
				return
			}
		}
	}
	rep, err := h.svc.IngestChecked(ctx, id, all)
	if err != nil || rep.Stored != len(ballots) {
		t.Fatalf("IngestChecked: %+v, %v", rep, err)
	}
	if _, err := h.svc.IngestChecked(ctx, id, all); !errors.Is(err, ErrConflict) {
		t.Fatalf("a second load: %v, want ErrConflict", err)
	}
	info, err := h.svc.Info(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if info.Ballots.Total != int64(len(ballots)) || info.Ballots.Spoiled != int64(want.Spoiled) {
		t.Fatalf("ballot counts %+v", info.Ballots)
	}
	tally, err := h.svc.StartTally(ctx, id, "test")
	if err != nil {
		t.Fatal(err)
	}
	h.wait(tally.Job.JobID)

	// A failing sequence stores nothing.
	other, err := h.svc.Create(ctx, &Definition{Group: g, Manifest: syn.Manifest, Context: syn.Ceremony.Context,
		Guardians: syn.Ceremony.Guardians, Devices: syn.Devices(1), CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	broken := iter.Seq2[*record.SubmittedBallot, error](func(yield func(*record.SubmittedBallot, error) bool) {
		if yield(ballots[0], nil) {
			yield(nil, errors.New("the source broke"))
		}
	})
	if _, err := h.svc.IngestChecked(ctx, other, broken); err == nil {
		t.Fatal("a broken sequence was stored")
	}
	if info, err := h.svc.Info(ctx, other); err != nil || info.Ballots.Total != 0 {
		t.Fatalf("after a broken load: %+v, %v", info, err)
	}
}
