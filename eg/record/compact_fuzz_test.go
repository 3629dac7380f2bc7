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

// FuzzTallyBufferAddBinary multiplies arbitrary bytes, as an encoded subtotal of the
// generated test-group election, into a TallyBuffer and with Tally.MergeBinary into a
// Tally: it must not panic, both must take or refuse the same input, and what they take
// must give the same products (merged into a Tally, and encoded by the buffer itself). The seeds are an empty tally's encoding and one of a
// few ballots.
func FuzzTallyBufferAddBinary(f *testing.F) {
	gen := generatedElection(f)
	e := gen.election
	f.Add(e.NewTally().AppendBinary(nil))
	sub := e.NewTally()
	ballots, _, _ := encryptBallots(f, gen, 3, 8)
	for _, b := range ballots {
		if err := sub.Add(b); err != nil {
			f.Fatal(err)
		}
	}
	f.Add(sub.AppendBinary(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		buf, tally := e.NewTallyBuffer(), e.NewTally()
		err, merr := buf.AddBinary(data), tally.MergeBinary(data)
		if (err == nil) != (merr == nil) {
			t.Fatalf("AddBinary gives %v, MergeBinary %v", err, merr)
		}
		if err != nil {
			return
		}
		got := e.NewTally()
		if err := buf.MergeInto(got); err != nil {
			t.Fatal(err)
		}
		if enc := tally.AppendBinary(nil); !bytes.Equal(got.AppendBinary(nil), enc) || !bytes.Equal(buf.AppendBinary(nil), enc) {
			t.Fatal("the buffer's products differ from the tally's")
		}
	})
}
