package eg_test

import (
	"fmt"

	"github.com/tallyq/tallyq/eg"
)

// Three guardians with quorum two run the key ceremony, three voters encrypt
// a yes/no selection with proofs, the ciphertexts are tallied, and the tally
// is decrypted while one guardian is missing: the two present guardians
// compute their own shares and, from their key backups, compensated shares
// for the missing one.
func Example() {
	g := eg.TestGroup() // eg.Standard() in production
	ids := []string{"carol", "alice", "bob"}
	seqs := []uint64{1, 2, 3} // sequence orders are separate from ids
	const quorum = 2

	// Key ceremony.
	polys := make([]*eg.Polynomial, len(ids))
	var keys []eg.ElementModP
	for i := range ids {
		p, err := g.NewPolynomial(quorum)
		if err != nil {
			panic(err)
		}
		if err := g.VerifyCommitments(p.Commitments(), p.Proofs()); err != nil {
			panic(err)
		}
		polys[i] = p
		keys = append(keys, p.PublicKey())
	}
	k := g.NewFixedBase(g.JointKey(keys...))
	qbar := g.Hash("extended base hash Q̄ of this election")

	// Voting: each ballot's selection is encrypted and proved to be 0 or 1.
	var items []eg.DisjunctiveItem
	for _, vote := range []uint64{1, 0, 1} {
		nonce := g.RandomQ()
		ct, err := g.Encrypt(vote, nonce, k)
		if err != nil {
			panic(err)
		}
		proof, err := g.NewDisjunctiveProof(ct, vote, nonce, k, qbar, g.RandomQ())
		if err != nil {
			panic(err)
		}
		items = append(items, eg.DisjunctiveItem{Ciphertext: ct, Proof: proof})
	}

	// Tally: verify the proofs in one batch, then multiply the ciphertexts.
	if err := g.VerifyDisjunctiveBatch(items, k, qbar); err != nil {
		panic(err)
	}
	var cts []eg.Ciphertext
	for _, it := range items {
		cts = append(cts, it.Ciphertext)
	}
	tally := g.AddCiphertexts(cts...)

	// Decryption with "bob" (index 2) missing.
	present := []int{0, 1}
	var shares []eg.ElementModP
	for _, i := range present {
		s := g.NewDecryptionShare(tally, polys[i].SecretKey(), qbar, g.RandomQ())
		if err := s.Verify(g, tally, g.NewFixedBase(keys[i]), qbar); err != nil {
			panic(err)
		}
		shares = append(shares, s.Share)
	}
	missing := 2
	w, err := g.LagrangeCoefficients([]uint64{seqs[0], seqs[1]})
	if err != nil {
		panic(err)
	}
	var parts []eg.ElementModP
	for _, i := range present {
		backup := polys[missing].Evaluate(g, seqs[i]) // P_bob(i), from bob's key backup
		part := g.NewCompensatedShare(tally, backup, qbar, g.RandomQ())
		recovery := g.NewFixedBase(g.RecoveryKey(seqs[i], polys[missing].Commitments()))
		if err := part.Verify(g, tally, recovery, qbar); err != nil {
			panic(err)
		}
		parts = append(parts, part.Share)
	}
	bobShare, err := g.ReconstructShare(parts, w)
	if err != nil {
		panic(err)
	}
	shares = append(shares, bobShare)

	count, err := g.Decrypt("yes votes", tally, shares, g.NewDiscreteLog(3))
	if err != nil {
		panic(err)
	}
	fmt.Println("yes votes:", count)
	// Output: yes votes: 2
}
