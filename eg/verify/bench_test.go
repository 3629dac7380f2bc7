package verify

import (
	"context"
	"os"
	"testing"

	"github.com/tallyq/tallyq/internal/fixtures"
)

// BenchmarkFixture verifies each fixture's whole record; it reports the group
// exponentiations per verification, the measure that does not depend on the machine.
func BenchmarkFixture(b *testing.B) {
	for _, set := range []string{"minimal", "small"} {
		b.Run(set, func(b *testing.B) {
			dir := fixtures.Record(b, set)
			g := standard()
			g.GPow(g.OneQ()) // build g's table outside the measurement
			start := g.ExpCount()
			for b.Loop() {
				r, err := Dir(context.Background(), dir, Options{Group: g})
				if err != nil || !r.OK() {
					b.Fatal(err, r.Err())
				}
			}
			b.ReportMetric(float64(g.ExpCount()-start)/float64(b.N), "exps/op")
		})
	}
}

// BenchmarkBallot checks one ballot of the small fixture (three contests, twelve
// selections with placeholders) as the ballot workers do; a record's ballot phase takes
// this per ballot divided by Options.Workers.
func BenchmarkBallot(b *testing.B) {
	dir := fixtures.Record(b, "small")
	g := standard()
	ps := &problems{limit: 10}
	e := loadElection(os.DirFS(dir), g, ps)
	if e == nil {
		b.Fatal(ps.list)
	}
	fsys := os.DirFS(dir)
	const file = "submitted_ballots/submitted_ballot_ballot-4b645678-73fc-11ec-b8bd-acde48001122.json"
	start := g.ExpCount()
	for b.Loop() {
		if cb := e.readBallot(fsys, file); len(cb.problems) != 0 {
			b.Fatal(cb.problems)
		}
	}
	b.ReportMetric(float64(g.ExpCount()-start)/float64(b.N), "exps/op")
}
