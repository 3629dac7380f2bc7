package verify

import (
	"context"
	"sync"
	"testing"

	"github.com/tallyq/tallyq/eg"
	"github.com/tallyq/tallyq/internal/fixtures"
)

// standard is one standard group for the whole test binary, so that the tables of g
// are built once.
var standard = sync.OnceValue(eg.Standard)

// verified caches each fixture's report: the small fixture is 4096-bit with spoiled
// ballots and is verified once per test binary.
var verified sync.Map // set → *verifiedRecord

type verifiedRecord struct {
	once   sync.Once
	report *Report
	err    error
}

// verifyFixture verifies a fixture's record once and returns the report.
func verifyFixture(t testing.TB, set string) *Report {
	t.Helper()
	dir := fixtures.Record(t, set)
	v, _ := verified.LoadOrStore(set, &verifiedRecord{})
	r := v.(*verifiedRecord)
	r.once.Do(func() { r.report, r.err = Dir(context.Background(), dir, Options{Group: standard()}) })
	if r.err != nil {
		t.Fatalf("verify %s: %v", set, r.err)
	}
	return r.report
}

func TestFixturesVerify(t *testing.T) {
	for _, set := range []string{"minimal", "small"} {
		t.Run(set, func(t *testing.T) {
			r := verifyFixture(t, set)
			if err := r.Err(); err != nil {
				t.Fatal(err)
			}
			t.Log(r.Summary())
			for _, w := range r.Warnings {
				t.Errorf("warning: %s", w)
			}
		})
	}
}
