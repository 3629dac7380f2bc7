package election

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/tallyq/tallyq/eg"
	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/internal/fixtures"
)

// FuzzIngestLine feeds arbitrary lines to the ballot upload's parser and
// checks: no panic; a line accepted has passed the structure checks and
// encodes compactly, and the compact form decodes to the same ballot.
func FuzzIngestLine(f *testing.F) {
	pub := fixtures.Record(f, "minimal")
	folder := record.OpenFolder(pub)
	m, err1 := folder.Manifest()
	c, err2 := folder.Context()
	if err1 != nil || err2 != nil {
		f.Fatal(err1, err2)
	}
	s := &Service{groups: map[string]*eg.Group{}}
	g, err := s.groupOfFolder(folder)
	if err != nil {
		f.Fatal(err)
	}
	e, err := record.NewElection(g, m, c)
	if err != nil {
		f.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(pub, record.SubmittedBallotsDir, "*.json"))
	for _, file := range files[:2] {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bytes.ReplaceAll(raw, []byte("\n"), nil))
	}
	f.Add([]byte(`{"object_id":"x","state":1}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, line []byte) {
		b, err := decodeBallot(line)
		if err != nil {
			return
		}
		if b.State != record.BallotCast && b.State != record.BallotSpoiled {
			return
		}
		if err := e.CheckStructure(b); err != nil {
			return
		}
		data, err := record.EncodeCompact(g, b)
		if err != nil {
			return
		}
		back, err := record.DecodeCompact(g, data)
		if err != nil {
			t.Fatalf("an accepted ballot's compact form does not decode: %v", err)
		}
		want, _ := record.Marshal(b)
		got, _ := record.Marshal(back)
		if !bytes.Equal(want, got) {
			t.Fatal("an accepted ballot does not survive its compact form")
		}
	})
}
