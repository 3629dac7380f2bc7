package record

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/tallyq/tallyq/eg"
)

// FuzzDecodeCompact decodes arbitrary bytes in the test group (testGroup true) or the
// standard one: it must not panic, and whatever decodes must re-encode to the same bytes.
// The seeds are the fixtures' ballots (standard group) and a sample using every option
// of the format in both groups.
func FuzzDecodeCompact(f *testing.F) {
	test := eg.TestGroup()
	for _, g := range []*eg.Group{test, standard} {
		data, err := EncodeCompact(g, compactSample(g))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(g == test, data)
	}
	for _, set := range fixtureSets {
		root, err := findFixture(set)
		if err != nil {
			continue // fuzzing works without these seeds
		}
		for b, err := range OpenFolder(filepath.Join(root, "election_record")).SubmittedBallots() {
			if err != nil {
				f.Fatal(err)
			}
			data, err := EncodeCompact(standard, b)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(false, data)
		}
	}
	f.Fuzz(func(t *testing.T, testGroup bool, data []byte) {
		g := standard
		if testGroup {
			g = test
		}
		b, err := DecodeCompact(g, data)
		if err != nil {
			return
		}
		again, err := EncodeCompact(g, b)
		if err != nil {
			t.Fatalf("a decoded ballot does not encode: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("a decoded ballot encodes to other bytes:\n%x\n%x", data, again)
		}
	})
}
