package record

import "testing"

// A relabelled ballot validates under its new id, with a new code; the same
// ballot with only its id changed does not.
func TestRelabel(t *testing.T) {
	gen := generatedElection(t)
	ballots, _, _ := encryptBallots(t, gen, 1, 11)
	b := ballots[0]
	r, err := gen.election.Relabel(b, "copy-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := gen.election.ValidateBallot(r); err != nil {
		t.Fatalf("the relabelled ballot is invalid: %v", err)
	}
	if r.ObjectID != "copy-1" || r.Code.Equal(b.Code) || b.ObjectID == "copy-1" {
		t.Fatalf("relabelled %s code %s from %s code %s", r.ObjectID, r.Code, b.ObjectID, b.Code)
	}
	renamed := *b
	renamed.ObjectID = "copy-2"
	if err := gen.election.ValidateBallot(&renamed); err == nil {
		t.Fatal("a ballot with only its id changed validates; the test shows nothing")
	}
}
