package verify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tallyq/tallyq/eg"
)

// findRecord returns ../shared/fixtures/electionguard-0.95/<set>/election_record
// relative to the module root.
func findRecord(set string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's directory")
		}
		dir = parent
	}
	path := filepath.Join(dir, "..", "shared", "fixtures", "electionguard-0.95", set, "election_record")
	if _, err := os.Stat(filepath.Join(path, contextFile)); err != nil {
		return "", fmt.Errorf("fixture %s is missing (%w); DESIGN.md says where the 0.95 sample records live", set, err)
	}
	return path, nil
}

// recordDir is findRecord that skips the test when the fixture is missing (fails it in CI).
func recordDir(t testing.TB, set string) string {
	t.Helper()
	path, err := findRecord(set)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return path
}

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
	dir := recordDir(t, set)
	v, _ := verified.LoadOrStore(set, &verifiedRecord{})
	r := v.(*verifiedRecord)
	r.once.Do(func() { r.report, r.err = Dir(context.Background(), dir, Options{Group: standard()}) })
	if r.err != nil {
		t.Fatalf("verify %s: %v", set, r.err)
	}
	return r.report
}
