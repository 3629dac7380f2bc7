package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tallyq/tallyq/internal/fixtures"
)

func TestPositionalArgs(t *testing.T) {
	var opts verifyOptions
	pos, flags := positionalArgs([]string{"--workers", "2", "DIR", "--max-problems=3", "-h"}, opts.register)
	if !slices.Equal(pos, []string{"DIR"}) || !slices.Equal(flags, []string{"--workers", "2", "--max-problems=3", "-h"}) {
		t.Errorf("positional %q, flags %q", pos, flags)
	}
	pos, flags = positionalArgs([]string{"--", "-odd-name"}, opts.register)
	if !slices.Equal(pos, []string{"-odd-name"}) || len(flags) != 0 {
		t.Errorf("after --: positional %q, flags %q", pos, flags)
	}
	if _, _, err := folderArg([]string{"a", "--workers", "1", "b"}, opts.register); !isUsageError(err) || !strings.Contains(err.Error(), "give one folder, not 2") {
		t.Errorf("two folders: %v; want a usage error", err)
	}
}

func TestVerifyCommand(t *testing.T) {
	record := fixtures.Record(t, "minimal")
	code, out, errOut := runIn(t, nil, "verify", "--workers", "2", record)
	if code != 0 || !strings.Contains(out, "the election record verifies") || !strings.Contains(out, "5 cast") {
		t.Fatalf("verify of the minimal fixture: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}

	// A tally count changed: exit 1, and the problem named on stderr.
	tampered := filepath.Join(t.TempDir(), "election_record")
	if err := os.CopyFS(tampered, os.DirFS(record)); err != nil {
		t.Fatal(err)
	}
	tally := filepath.Join(tampered, "tally.json")
	b, err := os.ReadFile(tally)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(b), `"tally": 2`, `"tally": 4`, 1)
	if changed == string(b) {
		t.Fatal(`tally.json has no "tally": 2 to change`)
	}
	if err := os.WriteFile(tally, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runIn(t, nil, "verify", tampered)
	if code != 1 || out != "" || !strings.Contains(errOut, "tally.json: contest referendum-pineapple, selection referendum-pineapple-affirmative-selection: decryption check failed") {
		t.Errorf("verify of a changed count: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}

	if code, _, errOut = runIn(t, nil, "verify"); code != 2 || !strings.Contains(errOut, "tallyq verify DIR") {
		t.Errorf("verify without a folder: exit %d, stderr %q; want 2 and the usage", code, errOut)
	}
	if code, _, errOut = runIn(t, nil, "verify", filepath.Join(t.TempDir(), "none")); code != 1 || !strings.Contains(errOut, "is not an election record folder") {
		t.Errorf("verify of a missing folder: exit %d, stderr %q", code, errOut)
	}
}
