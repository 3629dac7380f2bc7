package record

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/tallyq/tallyq/eg"
)

// FuzzDecodeCompact decodes arbitrary bytes in the test group (testGroup true) or the
// standard one: it must not panic, and whatever decodes must re-encode to the same bytes.
func FuzzDecodeCompact(f *testing.F) {
	test := addCompactSeeds(f)
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

// addCompactSeeds adds the compact fuzz targets' seeds, the fixtures' ballots (standard
// group) and a sample using every option of the format in both groups, and returns the
// test group.
func addCompactSeeds(f *testing.F) *eg.Group {
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
	return test
}

// FuzzViewDecoder reads arbitrary bytes with a ViewDecoder of the test group (testGroup
// true) or the standard one, after it has read the format's sample (so reusing its
// memory): it must not panic and must agree with DecodeCompact (viewAgrees).
func FuzzViewDecoder(f *testing.F) {
	test := addCompactSeeds(f)
	f.Fuzz(func(t *testing.T, testGroup bool, data []byte) {
		g := standard
		if testGroup {
			g = test
		}
		d := NewViewDecoder(g)
		sample, err := EncodeCompact(g, compactSample(g))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Decode(sample); err != nil {
			t.Fatalf("the sample does not decode: %v", err)
		}
		if err := viewAgrees(g, d, data); err != nil {
			t.Fatal(err)
		}
	})
}
