package record

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// fixtureSets are the 0.95 sample elections the tests check against.
var fixtureSets = []string{"minimal", "small"}

// findFixture returns ../shared/fixtures/electionguard-0.95/<set> relative to the module root.
func findFixture(set string) (string, error) {
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
	path := filepath.Join(dir, "..", "shared", "fixtures", "electionguard-0.95", set)
	if _, err := os.Stat(filepath.Join(path, "election_record", ContextFile)); err != nil {
		return "", fmt.Errorf("fixture %s is missing (%w); DESIGN.md says where the 0.95 sample records live", set, err)
	}
	return path, nil
}

// fixtureDir is findFixture that skips the test when the fixture is missing (fails it in CI).
func fixtureDir(t testing.TB, set string) string {
	t.Helper()
	path, err := findFixture(set)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return path
}

// publicDir is a fixture's election_record folder.
func publicDir(t testing.TB, set string) string {
	return filepath.Join(fixtureDir(t, set), "election_record")
}

// privateDir is a fixture's election_private_data folder.
func privateDir(t testing.TB, set string) string {
	return filepath.Join(fixtureDir(t, set), "election_private_data")
}
