package record

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/tallyq/tallyq/eg"
)

// TestTallyFormHasTheCiphertexts: the tally form of every 4096-bit fixture ballot and of
// generated ones reads into a view of the ballot's ids and ciphertexts, is at most 40 % of its
// size for the fixtures, carries no proof, and leaves the ballot unchanged.
func TestTallyFormHasTheCiphertexts(t *testing.T) {
	check := func(g *eg.Group, b *SubmittedBallot, maxShare float64) {
		t.Helper()
		before, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		full := mustEncodeCompact(t, g, b)
		form, err := EncodeTallyForm(g, b)
		if err != nil {
			t.Fatalf("%s: %v", b.ObjectID, err)
		}
		v, err := NewViewDecoder(g).Decode(form)
		if err != nil {
			t.Fatalf("%s: the tally form does not read: %v", b.ObjectID, err)
		}
		if err := viewMatches(g, v, b); err != nil {
			t.Errorf("%s: %v", b.ObjectID, err)
		}
		if share := float64(len(form)) / float64(len(full)); share > maxShare {
			t.Errorf("%s: tally form %d bytes, %.2f of the full %d", b.ObjectID, len(form), share, len(full))
		}
		back, err := DecodeCompact(g, form)
		if err != nil {
			t.Fatalf("%s: the tally form does not decode: %v", b.ObjectID, err)
		}
		for _, c := range back.Contests {
			for _, s := range c.BallotSelections {
				if c.Proof != nil || s.Proof != nil || s.Nonce != nil || s.ExtendedData != nil {
					t.Fatalf("%s: the tally form keeps a proof, nonce or extended data", b.ObjectID)
				}
			}
		}
		if after, _ := json.Marshal(b); !bytes.Equal(before, after) {
			t.Errorf("%s: encoding the tally form changed the ballot", b.ObjectID)
		}
	}
	for _, set := range fixtureSets {
		for i, b := range loadFixture(t, set).ballots {
			check(standard, b, 0.4)
			if i == 0 {
				form, _ := EncodeTallyForm(standard, b)
				t.Logf("%s %s: tally form %d bytes, full %d", set, b.ObjectID, len(form), len(mustEncodeCompact(t, standard, b)))
			}
		}
	}
	gen := generatedElection(t)
	ballots, _, _ := encryptBallots(t, gen, 4, 3)
	for _, b := range ballots {
		check(gen.g, b, 1)
	}
	check(gen.g, &SubmittedBallot{ObjectID: "empty", State: BallotCast}, 1)
	if _, err := EncodeTallyForm(gen.g, nil); err == nil {
		t.Error("a nil ballot's tally form encodes")
	}
}
