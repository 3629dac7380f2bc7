package verify

import (
	"context"
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
