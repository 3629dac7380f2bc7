package record

import (
	"testing"
	"time"
)

// BenchmarkValidateFixtureBallots validates the small fixture's five 4096-bit ballots (37
// selection proofs, 12 contest proofs) one at a time and with ValidateBallots (selection
// and contest proofs in batches), and reports the batched rate against the one-at-a-time rate
// measured in the same run as "batch-speedup".
func BenchmarkValidateFixtureBallots(b *testing.B) {
	fx := loadFixture(b, "small")
	e := fx.election
	var single, batched time.Duration
	for b.Loop() {
		start := time.Now()
		for _, ballot := range fx.ballots {
			if err := e.ValidateBallot(ballot); err != nil {
				b.Fatal(err)
			}
		}
		mid := time.Now()
		for _, err := range e.ValidateBallots(fx.ballots) {
			if err != nil {
				b.Fatal(err)
			}
		}
		single += mid.Sub(start)
		batched += time.Since(mid)
	}
	b.ReportMetric(float64(single.Microseconds())/float64(b.N*len(fx.ballots)), "µs/ballot-single")
	b.ReportMetric(float64(batched.Microseconds())/float64(b.N*len(fx.ballots)), "µs/ballot-batched")
	b.ReportMetric(float64(single)/float64(batched), "batch-speedup")
}

// BenchmarkTallyAdd measures multiplying one cast 4096-bit ballot into the tally.
func BenchmarkTallyAdd(b *testing.B) {
	fx := loadFixture(b, "small")
	t := fx.election.NewTally()
	var cast *SubmittedBallot
	for _, ballot := range fx.ballots {
		if ballot.State == BallotCast {
			cast = ballot
		}
	}
	for b.Loop() {
		if err := t.Add(cast); err != nil {
			b.Fatal(err)
		}
	}
}
