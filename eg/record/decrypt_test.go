package record

import (
	"fmt"
	"strings"
	"testing"
)

// TestCombineRejectsTampering: a tampered direct share, compensated part, recovery key,
// or too few parts are each rejected by Combine (and VerifyShare / VerifyPart) with an
// error naming the selection and guardian.
func TestCombineRejectsTampering(t *testing.T) {
	gen := generatedElection(t)
	ballots, _, _ := encryptBallots(t, gen, 3, 5)
	tally := tallyOf(t, gen.election, ballots)
	d, err := gen.election.NewDecryptor(gen.cer.Guardians, 3)
	if err != nil {
		t.Fatal(err)
	}
	avail := []string{gen.cer.Private[1].GuardianID, gen.cer.Private[3].GuardianID, gen.cer.Private[4].GuardianID}
	cts, err := tally.Record("t").Ciphertexts(gen.g)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := d.Decrypt("t", cts[:1], trusteesFor(t, d, gen.cer.Private, avail))
	if err != nil {
		t.Fatal(err)
	}
	sel := pt.Contests[0].Selections[0]
	ct := cts[0].Selections[0].Ciphertext
	direct, missing := -1, -1
	for i, s := range sel.Shares {
		if s.RecoveredParts == nil {
			direct = i
		} else {
			missing = i
		}
	}
	cases := map[string]struct {
		edit func(shares []DecryptionShare)
		want string
	}{
		"direct share": {func(s []DecryptionShare) { s[direct].Share = bump(s[direct].Share) }, sel.Shares[direct].GuardianID},
		"direct proof": {func(s []DecryptionShare) { s[direct].Proof.Response = bump(s[direct].Proof.Response) }, sel.Shares[direct].GuardianID},
		"part share": {func(s []DecryptionShare) {
			s[missing].RecoveredParts[0].Share = bump(s[missing].RecoveredParts[0].Share)
		}, sel.Shares[missing].RecoveredParts[0].GuardianID},
		"recovery key": {func(s []DecryptionShare) {
			s[missing].RecoveredParts[1].RecoveryKey = bump(s[missing].RecoveredParts[1].RecoveryKey)
		}, "recovery key"},
		"reconstructed share": {func(s []DecryptionShare) { s[missing].Share = bump(s[missing].Share) }, sel.Shares[missing].GuardianID},
		"too few parts":       {func(s []DecryptionShare) { s[missing].RecoveredParts = s[missing].RecoveredParts[:2] }, "quorum"},
		"share missing":       {func(s []DecryptionShare) { s[direct] = s[missing] }, "repeated"},
	}
	for name, tc := range cases {
		shares := cloneShares(t, sel.Shares)
		tc.edit(shares)
		_, err := d.Combine(sel.ObjectID, ct, shares)
		if err == nil || !strings.Contains(err.Error(), sel.ObjectID) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error naming %s and %q", name, err, sel.ObjectID, tc.want)
		}
	}
	if _, err := d.Combine(sel.ObjectID, ct, sel.Shares); err != nil {
		t.Fatalf("untampered shares: %v", err)
	}
	shares := cloneShares(t, sel.Shares)
	shares[direct].Proof.Challenge = bump(shares[direct].Proof.Challenge)
	if err := d.VerifyShare(sel.ObjectID, ct, shares[direct]); err == nil {
		t.Error("VerifyShare accepts a tampered proof")
	}
	part := shares[missing].RecoveredParts[0]
	part.Proof.Pad = bump(part.Proof.Pad)
	if err := d.VerifyPart(sel.ObjectID, ct, part); err == nil {
		t.Error("VerifyPart accepts a tampered proof")
	}
	if err := d.VerifyPart(sel.ObjectID, ct, sel.Shares[missing].RecoveredParts[0]); err != nil {
		t.Errorf("VerifyPart: %v", err)
	}
}

func cloneShares(t *testing.T, s []DecryptionShare) []DecryptionShare {
	t.Helper()
	var out []DecryptionShare
	if err := unmarshal(mustMarshal(t, s), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCombineBeyondBound: a count above the decryptor's bound is an error naming the
// selection and the bound, not a search without end.
func TestCombineBeyondBound(t *testing.T) {
	gen := generatedElection(t)
	ballots, _, want := encryptBallots(t, gen, 6, 11)
	tally := tallyOf(t, gen.election, ballots)
	cts, err := tally.Record("t").Ciphertexts(gen.g)
	if err != nil {
		t.Fatal(err)
	}
	var sel SelectionCiphertext
	count := 0
	for _, c := range cts {
		for _, s := range c.Selections {
			if n := want[c.ObjectID][s.ObjectID]; n > count {
				sel, count = s, n
			}
		}
	}
	if count < 2 {
		t.Fatalf("no selection got two votes: %v", want)
	}
	avail := []string{gen.cer.Private[0].GuardianID, gen.cer.Private[2].GuardianID, gen.cer.Private[4].GuardianID}
	for _, bound := range []int{count, count - 1} {
		d, err := gen.election.NewDecryptor(gen.cer.Guardians, uint64(bound))
		if err != nil {
			t.Fatal(err)
		}
		pt, err := d.Decrypt("t", []ContestCiphertexts{{ObjectID: "c", Selections: []SelectionCiphertext{sel}}}, trusteesFor(t, d, gen.cer.Private, avail))
		switch {
		case bound == count && (err != nil || pt.Contests[0].Selections[0].Tally != int64(count)):
			t.Errorf("bound %d: got %v, want the count %d", bound, err, count)
		case bound < count && (err == nil || !strings.Contains(err.Error(), sel.ObjectID) || !strings.Contains(err.Error(), fmt.Sprintf("[0, %d]", bound))):
			t.Errorf("bound %d: got %v, want an error naming %s and the bound", bound, err, sel.ObjectID)
		}
	}
}
