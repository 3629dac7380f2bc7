package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tallyq/tallyq/internal/fixtures"
)

// The minimal fixture's files and ids the tampered copies change.
const (
	firstBallot  = "ballot-85c8f918-73fc-11ec-9daf-acde48001122"
	secondBallot = "ballot-85c8fc88-73fc-11ec-9daf-acde48001122"
	affirmative  = "referendum-pineapple-affirmative-selection"
	negative     = "referendum-pineapple-negative-selection"
	spoiledSmall = "ballot-4b645088-73fc-11ec-b8bd-acde48001122"
)

func ballotFile(id string) string { return "submitted_ballots/submitted_ballot_" + id + ".json" }

// tallySelection is the path to one selection of a plaintext tally.
func tallyPath(contest, selection string, rest ...any) []any {
	return append([]any{"contests", contest, "selections", selection}, rest...)
}

// tamper is one change to a copy of a fixture and what the verifier must say about it.
type tamper struct {
	name   string
	set    string // fixture; "minimal" when empty
	change func(t *testing.T, dir string)
	want   []want
}

// want is a problem the verifier must report: its check, and what it must name (file,
// ballot, contest, selection, guardian, failed equation), each a substring of it.
type want struct {
	check Check
	where []string
}

func TestTamperedRecordsAreRejected(t *testing.T) {
	g := standard()
	mulG := func(x *big.Int) *big.Int { // stays in the subgroup: only the proofs can tell
		y := new(big.Int).Mul(x, g.G())
		return y.Mod(y, g.P())
	}
	plusOne := func(x *big.Int) *big.Int { return new(big.Int).Add(x, big.NewInt(1)) }
	notMember := func(*big.Int) *big.Int { return new(big.Int).Sub(g.P(), big.NewInt(1)) } // order 2
	firstSelection := []any{"contests", 0, "ballot_selections", 0}
	cases := []tamper{
		{name: "ballot proof response",
			change: editHex(ballotFile(firstBallot), plusOne, append(firstSelection, "proof", "proof_zero_response")...),
			want:   []want{{CheckSelectionProof, []string{ballotFile(firstBallot), "ballot " + firstBallot, "contest referendum-pineapple", "selection " + affirmative, "g^v0"}}}},
		{name: "ballot ciphertext",
			change: editHex(ballotFile(secondBallot), mulG, append(firstSelection, "ciphertext", "pad")...),
			want: []want{
				{CheckTallyProduct, []string{encryptedTallyFile, "selection " + affirmative}},
				{CheckSelectionProof, []string{"ballot " + secondBallot, "selection " + affirmative, "challenge"}}}},
		{name: "ballot element outside the subgroup",
			change: editHex(ballotFile(secondBallot), notMember, append(firstSelection, "ciphertext", "data")...),
			want:   []want{{CheckSubgroup, []string{"ballot " + secondBallot, "selection " + affirmative, "β"}}}},
		{name: "ballot contest proof",
			change: editHex(ballotFile(firstBallot), plusOne, "contests", 0, "proof", "response"),
			want:   []want{{CheckContestProof, []string{"ballot " + firstBallot, "contest referendum-pineapple", "g^v"}}}},
		{name: "tracking code",
			change: editHex(ballotFile(firstBallot), plusOne, "code"),
			want:   []want{{CheckTrackingCode, []string{"ballot " + firstBallot, "H(code_seed, timestamp, crypto_hash)"}}}},
		{name: "missing ballot",
			change: removeFile(ballotFile(firstBallot)),
			want: []want{
				{CheckTallyProduct, []string{encryptedTallyFile, "selection " + affirmative, "4 cast ballots"}},
				{CheckCodeChain, []string{ballotFile(secondBallot), "a ballot before it is missing"}}}},
		{name: "guardian key",
			change: chain(
				editHex("guardians/guardian_2.json", mulG, "election_public_key"),
				editHex("guardians/guardian_2.json", mulG, "election_commitments", 0),
				editHex("guardians/guardian_2.json", mulG, "election_proofs", 0, "public_key")),
			want: []want{{CheckKeyProof, []string{"guardians/guardian_2.json", "guardian 2, commitment 0", "H(K, h)"}}}},
		{name: "guardian key: joint key",
			change: editHex("guardians/guardian_2.json", mulG, "election_public_key"),
			want:   []want{{CheckJointKey, []string{contextFile, "product of the 5 guardians"}}}},
		{name: "context extended base hash",
			change: editHex(contextFile, plusOne, "crypto_extended_base_hash"),
			want:   []want{{CheckExtendedBaseHash, []string{contextFile, "crypto_extended_base_hash"}}}},
		{name: "context manifest hash",
			change: editHex(contextFile, plusOne, "manifest_hash"),
			want:   []want{{CheckManifestHash, []string{contextFile, "manifest_hash"}}}},
		{name: "encrypted tally selection",
			change: editHex(encryptedTallyFile, mulG, "contests", "referendum-pineapple", "selections", negative, "ciphertext", "data"),
			want: []want{
				{CheckTallyProduct, []string{encryptedTallyFile, "contest referendum-pineapple, selection " + negative}},
				{CheckTallyMessage, []string{tallyFile, "selection " + negative, "encrypted_tally.json's ciphertext"}}}},
		{name: "share",
			change: editHex(tallyFile, mulG, tallyPath("referendum-pineapple", affirmative, "shares", 0, "share")...),
			want: []want{
				{CheckShareProof, []string{tallyFile, "selection " + affirmative + ", guardian 1", "challenge"}},
				{CheckDecryption, []string{tallyFile, "selection " + affirmative, "B / ∏ M_i"}}}},
		{name: "share proof",
			change: editHex(tallyFile, plusOne, tallyPath("referendum-pineapple", negative, "shares", 1, "proof", "response")...),
			want:   []want{{CheckShareProof, []string{tallyFile, "selection " + negative + ", guardian 2", "g^v ≠ a·K^c"}}}},
		{name: "compensated share",
			change: editHex(tallyFile, mulG, tallyPath("referendum-pineapple", affirmative, "shares", 3, "recovered_parts", "1", "share")...),
			want: []want{
				{CheckCompensatedProof, []string{tallyFile, "missing guardian 4, part of guardian 1"}},
				{CheckReconstruction, []string{tallyFile, "selection " + affirmative + ", missing guardian 4", "∏ M_{l,i}^(w_i)"}}}},
		{name: "compensated share proof",
			change: editHex(tallyFile, plusOne, tallyPath("referendum-pineapple", negative, "shares", 4, "recovered_parts", "3", "proof", "challenge")...),
			want:   []want{{CheckCompensatedProof, []string{tallyFile, "selection " + negative + ", missing guardian 5, part of guardian 3", "challenge"}}}},
		{name: "recovery key",
			change: editHex(tallyFile, mulG, tallyPath("referendum-pineapple", negative, "shares", 4, "recovered_parts", "2", "recovery_key")...),
			want:   []want{{CheckRecoveryKey, []string{tallyFile, "missing guardian 5, part of guardian 2", "x = 2"}}}},
		{name: "lagrange coefficient",
			change: editHex(coefficientsFile, plusOne, "coefficients", 1),
			want:   []want{{CheckCoefficients, []string{coefficientsFile, "Lagrange"}}}},
		{name: "tally count",
			change: editJSON(tallyFile, func(t *testing.T, doc any) {
				set(t, doc, json.Number("3"), tallyPath("referendum-pineapple", affirmative, "tally")...)
			}),
			want: []want{{CheckDecryption, []string{tallyFile, "selection " + affirmative, "not g^3"}}}},
		{name: "spoiled ballot plaintext", set: "small",
			change: editJSON("spoiled_ballots/spoiled_ballot_"+spoiledSmall+".json", func(t *testing.T, doc any) {
				set(t, doc, json.Number("0"), tallyPath("referendum-pineapple", "referendum-pineapple-affirmative-selection", "tally")...)
			}),
			want: []want{{CheckDecryption, []string{"spoiled_ballots/spoiled_ballot_" + spoiledSmall + ".json", "ballot " + spoiledSmall, "selection referendum-pineapple-affirmative-selection", "not g^0"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set := tc.set
			if set == "" {
				set = "minimal"
			}
			dir := copyRecord(t, set)
			tc.change(t, dir)
			r, err := Dir(context.Background(), dir, Options{Group: g})
			if err != nil {
				t.Fatal(err)
			}
			if r.OK() {
				t.Fatalf("the tampered record verifies: %s", r.Summary())
			}
			for _, w := range tc.want {
				if !hasProblem(r, w.check, w.where) {
					t.Errorf("no %q problem naming %q; the problems are:\n%v", w.check, w.where, r.Err())
				}
			}
		})
	}
}

// hasProblem reports whether one of r's problems is of check and names all of where.
func hasProblem(r *Report, check Check, where []string) bool {
	for _, p := range r.Problems {
		if p.Check != check {
			continue
		}
		s := p.String()
		all := true
		for _, w := range where {
			all = all && strings.Contains(s, w)
		}
		if all {
			return true
		}
	}
	return false
}

// copyRecord copies a fixture's election record into a temporary folder.
func copyRecord(t *testing.T, set string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "election_record")
	if err := os.CopyFS(dir, os.DirFS(fixtures.Record(t, set))); err != nil {
		t.Fatal(err)
	}
	return dir
}

func removeFile(name string) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

func chain(changes ...func(t *testing.T, dir string)) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		for _, c := range changes {
			c(t, dir)
		}
	}
}

// editJSON rewrites one JSON file of the record through fn, keeping numbers exact.
func editJSON(name string, fn func(t *testing.T, doc any)) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		path := filepath.Join(dir, name)
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var doc any
		if err := dec.Decode(&doc); err != nil {
			t.Fatal(err)
		}
		fn(t, doc)
		out, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// editHex replaces the element {"data": hex} at path by f of its value.
func editHex(name string, f func(*big.Int) *big.Int, path ...any) func(t *testing.T, dir string) {
	return editJSON(name, func(t *testing.T, doc any) {
		elem, ok := get(t, doc, path...).(map[string]any)
		if !ok {
			t.Fatalf("%s %v is not an element", name, path)
		}
		x, ok := new(big.Int).SetString(elem["data"].(string), 16)
		if !ok {
			t.Fatalf("%s %v is not hex", name, path)
		}
		elem["data"] = strings.ToUpper(f(x).Text(16))
	})
}

// get walks doc along path (object keys and array indexes).
func get(t *testing.T, doc any, path ...any) any {
	t.Helper()
	for _, step := range path {
		switch k := step.(type) {
		case string:
			doc = doc.(map[string]any)[k]
		case int:
			doc = doc.([]any)[k]
		}
		if doc == nil {
			t.Fatalf("nothing at %v", path)
		}
	}
	return doc
}

// set replaces the value at path.
func set(t *testing.T, doc any, v any, path ...any) {
	t.Helper()
	parent := get(t, doc, path[:len(path)-1]...)
	switch k := path[len(path)-1].(type) {
	case string:
		parent.(map[string]any)[k] = v
	case int:
		parent.([]any)[k] = v
	}
}
