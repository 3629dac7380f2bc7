package record

import (
	"path/filepath"
	"testing"

	"github.com/tallyq/tallyq/internal/fixtures"
)

// fixtureSets are the 0.95 sample elections the tests check against.
var fixtureSets = fixtures.Sets

// findFixture returns ../shared/fixtures/electionguard-0.95/<set> relative to the module root.
func findFixture(set string) (string, error) { return fixtures.Find(set) }

// fixtureDir is findFixture that skips the test when the fixture is missing (fails it in CI).
func fixtureDir(t testing.TB, set string) string { return fixtures.Dir(t, set) }

// publicDir is a fixture's election_record folder.
func publicDir(t testing.TB, set string) string { return fixtures.Record(t, set) }

// privateDir is a fixture's election_private_data folder.
func privateDir(t testing.TB, set string) string {
	return filepath.Join(fixtureDir(t, set), "election_private_data")
}
