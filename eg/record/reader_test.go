package record

import (
	"bytes"
	"strings"
	"testing"
	"testing/fstest"
)

// TestDecodeBallotsNDJSON streams a fixture's ballots as NDJSON (with a blank line and a
// broken line among them): each ballot comes back equal, the broken line is an error
// naming its line, and the stream goes on after it.
func TestDecodeBallotsNDJSON(t *testing.T) {
	fx := loadFixture(t, "small")
	var buf bytes.Buffer
	for i, b := range fx.ballots {
		if err := WriteNDJSON(&buf, b); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			buf.WriteString("\n{\"object_id\": 7}\n")
		}
	}
	var got []*SubmittedBallot
	var errs []error
	for b, err := range DecodeBallots(&buf) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		got = append(got, b)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "line 4") {
		t.Fatalf("errors %v, want one at line 4", errs)
	}
	if len(got) != len(fx.ballots) {
		t.Fatalf("%d ballots, want %d", len(got), len(fx.ballots))
	}
	for i := range got {
		if !bytes.Equal(mustMarshal(t, got[i]), mustMarshal(t, fx.ballots[i])) {
			t.Errorf("ballot %d differs after NDJSON", i)
		}
	}
}

// TestDecodeNDJSONLongLine: a line longer than MaxDocumentBytes ends the stream with an error.
func TestDecodeNDJSONLongLine(t *testing.T) {
	long := strings.NewReader(`{"object_id": "` + strings.Repeat("x", MaxDocumentBytes) + `"}` + "\n{}\n")
	n, failed := 0, false
	for _, err := range DecodeBallots(long) {
		n++
		failed = failed || (err != nil && strings.Contains(err.Error(), "longer than"))
	}
	if n != 1 || !failed {
		t.Errorf("%d results (failed: %v), want one error", n, failed)
	}
}

// TestFolderStreamsInBatches: a folder with more ballots than one directory read yields
// each once, skipping non-JSON files; a broken file is an error for that file only; and
// the caller can stop early.
func TestFolderStreamsInBatches(t *testing.T) {
	fsys := fstest.MapFS{"submitted_ballots/README": {Data: []byte("not a ballot")}}
	const n = dirBatch*2 + 5
	for i := range n {
		fsys[SubmittedBallotsDir+"/submitted_ballot_"+string(rune('a'+i%26))+strings.Repeat("z", i/26)+".json"] = &fstest.MapFile{Data: []byte(`{"object_id": "b", "state": 1}`)}
	}
	fsys[SubmittedBallotsDir+"/broken.json"] = &fstest.MapFile{Data: []byte(`{"state": 5}`)}
	f := NewFolder(fsys)
	good, bad := 0, 0
	for b, err := range f.SubmittedBallots() {
		if err != nil {
			bad++
			if !strings.Contains(err.Error(), "broken.json") {
				t.Errorf("error does not name the file: %v", err)
			}
			continue
		}
		if b.State != BallotCast {
			t.Fatal("wrong ballot")
		}
		good++
	}
	if good != n || bad != 1 {
		t.Errorf("%d ballots and %d errors, want %d and 1", good, bad, n)
	}
	seen := 0
	for range f.SubmittedBallots() {
		seen++
		if seen == 3 {
			break
		}
	}
	if _, err := f.Tally(); err == nil {
		t.Error("a missing tally.json reads without error")
	}
	if bs := f.SpoiledBallots(); bs != nil {
		for range bs {
			t.Error("a missing spoiled_ballots folder yields something")
		}
	}
}

// TestWriterRefusesUnsafeIDs: ids that would name a file outside its folder are refused.
func TestWriterRefusesUnsafeIDs(t *testing.T) {
	w := NewWriter(t.TempDir(), t.TempDir())
	for _, id := range []string{"", "..", "../x", "a/b", `a\b`} {
		if err := w.WriteSubmittedBallot(&SubmittedBallot{ObjectID: id}); err == nil {
			t.Errorf("ballot id %q was written", id)
		}
	}
	if err := w.WriteGuardian(&GuardianRecord{GuardianID: "ok-id"}); err != nil {
		t.Error(err)
	}
}

// TestDecodeRejects: malformed documents give errors, never panics or silent zeros.
func TestDecodeRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"hex with a non-hex digit": `{"manifest_hash": {"data": "0G"}}`,
		"element as a string":      `{"manifest_hash": "0A"}`,
		"element without data":     `{"manifest_hash": {}}`,
		"null element":             `{"manifest_hash": null}`,
		"bad state":                `{"state": 3}`,
		"trailing data":            `{} {}`,
		"overlong hex":             `{"code": {"data": "` + strings.Repeat("A", 2000) + `"}}`,
	} {
		var b SubmittedBallot
		if err := Decode(strings.NewReader(doc), &b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	var tally PlaintextTally
	err := Decode(strings.NewReader(`{"contests": {"a": {"object_id": "b"}}}`), &tally)
	if err == nil || !strings.Contains(err.Error(), `entry 1: its key is not the id of the record it holds`) {
		t.Errorf("mis-keyed contest: %v", err)
	}
	var m Manifest
	if err := Decode(strings.NewReader(`{"type": "general-ish"}`), &m); err == nil {
		t.Error("unknown election type decoded")
	}
}
