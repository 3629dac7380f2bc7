package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tallyq/tallyq/internal/fixtures"
	"github.com/tallyq/tallyq/internal/testdb"
)

// tallyq import prints the ballot report and, last, the election id alone;
// tallyq export writes the record back. A record whose context does not
// follow from its guardians is refused, saying which.
func TestImportExport(t *testing.T) {
	pub := fixtures.Record(t, "minimal")
	vars := map[string]string{"TALLYQ_DATABASE_URL": testdb.URL(t)}
	code, out, errOut := runIn(t, vars, "import", pub)
	if code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	id, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
	if err != nil || id < 1 || !strings.Contains(out, "5 stored") {
		t.Fatalf("import output %q: the last line is not an election id", out)
	}
	dir := filepath.Join(t.TempDir(), "record")
	if code, out, errOut := runIn(t, vars, "export", "--election", lines[len(lines)-1], dir); code != 0 {
		t.Fatalf("export: exit %d\n%s%s", code, out, errOut)
	}
	ballots, _ := os.ReadDir(filepath.Join(dir, "submitted_ballots"))
	if len(ballots) != 5 {
		t.Fatalf("export wrote %d ballots", len(ballots))
	}

	// The same record with another guardian's key: the joint key no longer follows.
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.CopyFS(bad, os.DirFS(pub)); err != nil {
		t.Fatal(err)
	}
	ctxPath := filepath.Join(bad, "context.json")
	raw, err := os.ReadFile(ctxPath)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	c["elgamal_public_key"] = map[string]any{"data": "02"}
	raw, _ = json.Marshal(c)
	if err := os.WriteFile(ctxPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runIn(t, vars, "import", bad)
	if code != 1 || !strings.Contains(errOut, "elgamal_public_key") {
		t.Fatalf("import of a record with a wrong joint key: exit %d, %q; want 1 naming elgamal_public_key", code, errOut)
	}
}
