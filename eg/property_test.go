package eg

import (
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

type testGuardian struct {
	id   string
	seq  uint64
	poly *Polynomial
	key  *FixedBase
}

// ceremony runs the key ceremony math for n guardians with quorum k. Ids are
// non-numeric and their sequence orders deliberately do not follow id order.
func ceremony(t *testing.T, g *Group, rng *rand.Rand, n, k int) ([]testGuardian, *FixedBase) {
	t.Helper()
	names := []string{"zulu", "alpha", "mike", "echo", "kilo", "bravo", "yankee"}[:n]
	seqs := rng.Perm(n)
	for sorted := true; sorted && n > 1; { // make sure order differs from id order
		sorted = false
		if seqs[0] < seqs[1] == (names[0] < names[1]) {
			seqs[0], seqs[1] = seqs[1], seqs[0]
		}
	}
	gs := make([]testGuardian, n)
	keys := make([]ElementModP, n)
	for i := range gs {
		poly, err := g.NewPolynomial(k)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.VerifyCommitments(poly.Commitments(), poly.Proofs()); err != nil {
			t.Fatalf("guardian %s: %v", names[i], err)
		}
		gs[i] = testGuardian{id: names[i], seq: uint64(seqs[i]*3 + 2), poly: poly, key: g.NewFixedBase(poly.PublicKey())}
		keys[i] = poly.PublicKey()
	}
	// Every guardian checks the backup each other guardian sends it.
	for _, from := range gs {
		for _, to := range gs {
			if err := g.VerifyBackup(from.poly.Evaluate(g, to.seq), to.seq, from.poly.Commitments()); err != nil {
				t.Fatalf("backup %s → %s: %v", from.id, to.id, err)
			}
		}
	}
	return gs, g.NewFixedBase(g.JointKey(keys...))
}

type testContest struct {
	limit int
	cts   []Ciphertext // selections then placeholders
	proof ConstantProof
}

// encryptBallot encrypts the votes (one slice per contest) with placeholders
// that bring each contest's total to its limit, proving every selection 0/1
// and each contest's total, and verifies every proof.
func encryptBallot(t *testing.T, g *Group, k *FixedBase, qbar ElementModQ, votes [][]uint64, limits []int) ([]testContest, []DisjunctiveItem) {
	t.Helper()
	var contests []testContest
	var items []DisjunctiveItem
	for c, vs := range votes {
		total := 0
		for _, v := range vs {
			total += int(v)
		}
		plain := append([]uint64(nil), vs...)
		for i := 0; i < limits[c]; i++ {
			if total < limits[c] {
				plain = append(plain, 1)
				total++
			} else {
				plain = append(plain, 0)
			}
		}
		tc := testContest{limit: limits[c]}
		sumNonce := g.ZeroQ()
		for _, m := range plain {
			r := g.RandomQ()
			ct, err := g.Encrypt(m, r, k)
			if err != nil {
				t.Fatal(err)
			}
			proof, err := g.NewDisjunctiveProof(ct, m, r, k, qbar, g.RandomQ())
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.Verify(g, ct, k, qbar); err != nil {
				t.Fatalf("fresh proof for %d: %v", m, err)
			}
			tc.cts = append(tc.cts, ct)
			items = append(items, DisjunctiveItem{Ciphertext: ct, Proof: proof})
			sumNonce = g.AddQ(sumNonce, r)
		}
		acc := g.AddCiphertexts(tc.cts...)
		cp, err := g.NewConstantProof(acc, limits[c], sumNonce, k, qbar, g.RandomQ())
		if err != nil {
			t.Fatal(err)
		}
		if err := cp.Verify(g, acc, limits[c], k, qbar); err != nil {
			t.Fatalf("fresh constant proof: %v", err)
		}
		tc.proof = cp
		contests = append(contests, tc)
	}
	return contests, items
}

// subsets returns every subset of {0..n−1} with at least k members.
func subsets(n, k int) [][]int {
	var out [][]int
	for mask := 0; mask < 1<<n; mask++ {
		var s []int
		for i := 0; i < n; i++ {
			if mask&(1<<i) != 0 {
				s = append(s, i)
			}
		}
		if len(s) >= k {
			out = append(out, s)
		}
	}
	return out
}

// decryptWith decrypts ct with the guardians in avail, reconstructing the
// missing ones' shares from compensated shares, verifying every proof.
func decryptWith(t *testing.T, g *Group, gs []testGuardian, avail []int, ct Ciphertext, qbar ElementModQ, d *DiscreteLog) uint64 {
	t.Helper()
	isAvail := map[int]bool{}
	seqs := make([]uint64, len(avail))
	for j, i := range avail {
		isAvail[i] = true
		seqs[j] = gs[i].seq
	}
	w, err := g.LagrangeCoefficients(seqs)
	if err != nil {
		t.Fatal(err)
	}
	var shares []ElementModP
	for l, gl := range gs {
		if isAvail[l] {
			s := g.NewDecryptionShare(ct, gl.poly.SecretKey(), qbar, g.RandomQ())
			if err := s.Verify(g, ct, gl.key, qbar); err != nil {
				t.Fatalf("share of %s: %v", gl.id, err)
			}
			shares = append(shares, s.Share)
			continue
		}
		parts := make([]ElementModP, len(avail))
		for j, i := range avail {
			gi := gs[i]
			part := g.NewCompensatedShare(ct, gl.poly.Evaluate(g, gi.seq), qbar, g.RandomQ())
			recovery := g.NewFixedBase(g.RecoveryKey(gi.seq, gl.poly.Commitments()))
			if err := part.Verify(g, ct, recovery, qbar); err != nil {
				t.Fatalf("compensated share of %s for %s: %v", gi.id, gl.id, err)
			}
			parts[j] = part.Share
		}
		m, err := g.ReconstructShare(parts, w)
		if err != nil {
			t.Fatal(err)
		}
		if !m.Equal(g.PowP(ct.Pad, gl.poly.SecretKey())) {
			t.Fatalf("reconstructed share of %s ≠ A^s", gl.id)
		}
		shares = append(shares, m)
	}
	count, err := g.Decrypt("selection", ct, shares, d)
	if err != nil {
		t.Fatal(err)
	}
	return count
}

func TestRandomElectionsDecryptWithEveryQuorum(t *testing.T) {
	g := TestGroup()
	qbar := g.Hash("test election")
	for run, shape := range []struct{ n, k, ballots int }{{5, 3, 6}, {4, 2, 4}, {3, 3, 3}, {1, 1, 2}} {
		t.Run(fmt.Sprintf("n=%d,k=%d", shape.n, shape.k), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(run), 42))
			gs, k := ceremony(t, g, rng, shape.n, shape.k)
			limits := []int{1, 2}
			sizes := []int{3, 4}
			var tally []Ciphertext
			var sums []uint64
			var all []DisjunctiveItem
			for b := 0; b < shape.ballots; b++ {
				votes := make([][]uint64, len(limits))
				for c, size := range sizes {
					votes[c] = make([]uint64, size)
					for _, i := range rng.Perm(size)[:rng.IntN(limits[c]+1)] {
						votes[c][i] = 1
					}
				}
				contests, items := encryptBallot(t, g, k, qbar, votes, limits)
				all = append(all, items...)
				pos := 0
				for c, tc := range contests {
					for i := range sizes[c] { // real selections only, not placeholders
						if b == 0 {
							tally = append(tally, tc.cts[i])
							sums = append(sums, votes[c][i])
						} else {
							tally[pos] = g.AddCiphertexts(tally[pos], tc.cts[i])
							sums[pos] += votes[c][i]
						}
						pos++
					}
				}
			}
			if err := g.VerifyDisjunctiveBatch(all, k, qbar); err != nil {
				t.Fatalf("batch of %d valid proofs: %v", len(all), err)
			}
			d := g.NewDiscreteLog(uint64(shape.ballots))
			for _, avail := range subsets(shape.n, shape.k) {
				for sel, ct := range tally {
					if got := decryptWith(t, g, gs, avail, ct, qbar, d); got != sums[sel] {
						t.Fatalf("guardians %v: selection %d decrypts to %d, want %d", avail, sel, got, sums[sel])
					}
				}
			}
		})
	}
}

func TestTamperingIsRejectedAndNamed(t *testing.T) {
	g := TestGroup()
	qbar := g.Hash("tamper")
	rng := rand.New(rand.NewPCG(7, 7))
	gs, k := ceremony(t, g, rng, 3, 2)
	_, items := encryptBallot(t, g, k, qbar, [][]uint64{{1, 0}}, []int{1})
	ct, proof := items[0].Ciphertext, items[0].Proof
	gen := g.Generator()

	expectErr := func(name string, err error, want string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, want)
		}
	}
	badCt := Ciphertext{Pad: g.MulP(ct.Pad, gen), Data: ct.Data}
	expectErr("tampered α", proof.Verify(g, badCt, k, qbar), "challenge is not H(Q̄, α, β")
	p2 := proof
	p2.Proof0Response = g.AddQ(p2.Proof0Response, g.OneQ())
	expectErr("tampered v0", p2.Verify(g, ct, k, qbar), "g^v0 ≠ a0·α^c0")
	p3 := proof
	p3.Proof1Challenge = g.AddQ(p3.Proof1Challenge, g.OneQ())
	expectErr("tampered c1", p3.Verify(g, ct, k, qbar), "challenge is not proof_zero_challenge + proof_one_challenge")
	p4 := proof
	p4.Proof1Data = g.MulP(p4.Proof1Data, gen)
	expectErr("tampered b1", p4.Verify(g, ct, k, qbar), "challenge is not H")

	batch := append([]DisjunctiveItem(nil), items...)
	batch[1].Proof.Proof0Response = g.AddQ(batch[1].Proof.Proof0Response, g.OneQ())
	var be *BatchError
	if err := g.VerifyDisjunctiveBatch(batch, k, qbar); !errors.As(err, &be) || be.Index != 1 || !strings.Contains(err.Error(), "g^v0") {
		t.Errorf("batch with a bad response in proof 1: %v", err)
	}

	share := g.NewDecryptionShare(ct, gs[0].poly.SecretKey(), qbar, g.RandomQ())
	badShare := share
	badShare.Share = g.MulP(share.Share, gen)
	expectErr("tampered share", badShare.Verify(g, ct, gs[0].key, qbar), "challenge is not H(Q̄, A, B, a, b, M)")
	badResp := share
	badResp.Proof.Response = g.AddQ(share.Proof.Response, g.OneQ())
	expectErr("tampered share response", badResp.Verify(g, ct, gs[0].key, qbar), "g^v ≠ a·K^c")
	expectErr("share checked against another guardian's key", share.Verify(g, ct, gs[1].key, qbar), "g^v ≠ a·K^c")

	commitments := gs[0].poly.Commitments()
	commitments[1] = g.MulP(commitments[1], gen)
	expectErr("tampered commitment vs backup", g.VerifyBackup(gs[0].poly.Evaluate(g, gs[1].seq), gs[1].seq, commitments), "does not match the sender's coefficient commitments")
	expectErr("tampered commitment vs proof", g.VerifyCommitments(commitments, gs[0].poly.Proofs()), "coefficient 1")
	expectErr("tampered backup", g.VerifyBackup(g.AddQ(gs[0].poly.Evaluate(g, gs[1].seq), g.OneQ()), gs[1].seq, gs[0].poly.Commitments()), "partial key backup")

	sp := gs[0].poly.Proofs()[0]
	sp.Response = g.AddQ(sp.Response, g.OneQ())
	expectErr("tampered schnorr response", sp.Verify(g), "g^u ≠ h·K^c")
}

// TestBatchRejectsElementsOutsideSubgroup plants p − x, which differs from a
// subgroup element x only by the order-2 component −1, into one proof of a
// batch in a way that passes every hash and range check, 64 times over.
func TestBatchRejectsElementsOutsideSubgroup(t *testing.T) {
	g := TestGroup()
	qbar := g.Hash("planted")
	k := g.NewFixedBase(g.GPow(g.RandomQ()))
	const batch = 8
	neg := func(x ElementModP) ElementModP {
		y, _ := g.ElementModPFromBig(new(big.Int).Sub(g.p, x.big()))
		return y
	}
	for run := 0; run < 64; run++ {
		items := make([]DisjunctiveItem, batch)
		for i := range items {
			m := uint64(i % 2)
			r := g.RandomQ()
			ct, _ := g.Encrypt(m, r, k)
			proof, _ := g.NewDisjunctiveProof(ct, m, r, k, qbar, g.RandomQ())
			items[i] = DisjunctiveItem{Ciphertext: ct, Proof: proof}
		}
		bad := run % batch
		r := g.RandomQ()
		ct, _ := g.Encrypt(0, r, k)
		switch run % 3 {
		case 0: // −α, proved as if it were honest: equations hold whenever c0 is even
			ct.Pad = neg(ct.Pad)
			proof, _ := g.NewDisjunctiveProof(ct, 0, r, k, qbar, g.RandomQ())
			items[bad] = DisjunctiveItem{Ciphertext: ct, Proof: proof}
		case 1: // −β likewise
			ct.Data = neg(ct.Data)
			proof, _ := g.NewDisjunctiveProof(ct, 0, r, k, qbar, g.RandomQ())
			items[bad] = DisjunctiveItem{Ciphertext: ct, Proof: proof}
		case 2: // −a0 with a consistent challenge: only the sign of g^v0 = a0·α^c0 is off
			items[bad] = DisjunctiveItem{Ciphertext: ct, Proof: forgeNegatedA0(g, ct, r, k, qbar)}
		}
		if err := items[bad].Proof.checkStatic(g, items[bad].Ciphertext, qbar); err != nil {
			t.Fatalf("run %d: the planted proof must pass the hash and range checks: %v", run, err)
		}
		err := g.VerifyDisjunctiveBatch(items, k, qbar)
		var be *BatchError
		if !errors.As(err, &be) || be.Index != bad {
			t.Fatalf("run %d: planted element in proof %d: got %v", run, bad, err)
		}
	}
}

// forgeNegatedA0 builds a proof that (α, β) encrypts 0 with a0 replaced by
// p − a0 and every challenge recomputed to match.
func forgeNegatedA0(g *Group, ct Ciphertext, r ElementModQ, k *FixedBase, qbar ElementModQ) DisjunctiveProof {
	c1, v1, u0 := g.RandomQ(), g.RandomQ(), g.RandomQ()
	a0, _ := g.ElementModPFromBig(new(big.Int).Sub(g.p, g.GPow(u0).big()))
	b0 := k.Pow(u0)
	a1 := g.MulP(g.GPow(v1), g.PowP(ct.Pad, g.NegQ(c1)))
	b1 := g.MulP(k.Pow(v1), g.GPow(c1), g.PowP(ct.Data, g.NegQ(c1)))
	c := g.Hash(qbar, ct.Pad, ct.Data, a0, b0, a1, b1)
	c0 := g.SubQ(c, c1)
	return DisjunctiveProof{a0, b0, a1, b1, c0, c1, c, g.APlusBCQ(u0, c0, r), v1}
}

func TestLagrangeCoefficientErrors(t *testing.T) {
	g := TestGroup()
	if _, err := g.LagrangeCoefficients([]uint64{1, 2, 1}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate sequence order: %v", err)
	}
	if _, err := g.LagrangeCoefficients([]uint64{0, 2}); err == nil {
		t.Error("sequence order 0 accepted")
	}
}

func TestPolynomialIsRedacted(t *testing.T) {
	g := TestGroup()
	p, err := g.NewPolynomial(2)
	if err != nil {
		t.Fatal(err)
	}
	secret := p.SecretKey().Hex()
	for _, s := range []string{fmt.Sprint(p), fmt.Sprintf("%v %+v %#v %s %x", p, p, p, p, p), fmt.Sprintf("%v", *p)} {
		if strings.Contains(s, secret) || strings.Contains(strings.ToLower(s), strings.ToLower(secret)) {
			t.Fatalf("formatted polynomial shows its secret: %s", s)
		}
	}
	if _, err := p.MarshalJSON(); err == nil {
		t.Error("a polynomial marshalled to JSON")
	}
}

func TestSecretIsRedacted(t *testing.T) {
	g := TestGroup()
	x := g.RandomQ()
	s := NewSecret(x)
	out := fmt.Sprintf("%v %+v %#v %s %x %d %q", s, s, s, s, s, s, s) + fmt.Sprint(s, []Secret{s}, struct{ S Secret }{s})
	if strings.Contains(out, x.Hex()) || strings.Contains(strings.ToUpper(out), x.Hex()) || !strings.Contains(out, "redacted") {
		t.Fatalf("formatted secret: %s", out)
	}
	if _, err := s.MarshalJSON(); err == nil {
		t.Error("secret marshalled to JSON")
	}
	if !s.Reveal().Equal(x) {
		t.Error("Reveal lost the value")
	}
}

type pointerHashable struct{ n int }

func (p *pointerHashable) CryptoHash(g *Group) ElementModQ { return g.Hash("item", p.n) }

func TestHashUsesPointerReceiverOfSliceElements(t *testing.T) {
	g := TestGroup()
	items := []pointerHashable{{1}, {2}}
	want := g.Hash([]any{g.Hash("item", 1), g.Hash("item", 2)})
	if got := g.Hash(items); !got.Equal(want) {
		t.Fatal("a slice of values whose pointers are CryptoHashable hashes differently from their hashes")
	}
}

func TestShareBatch(t *testing.T) {
	g := TestGroup()
	qbar := g.Hash("shares")
	rng := rand.New(rand.NewPCG(3, 3))
	gs, k := ceremony(t, g, rng, 3, 2)
	neg := func(x ElementModP) ElementModP {
		y, _ := g.ElementModPFromBig(new(big.Int).Sub(g.p, x.big()))
		return y
	}
	makeItems := func() []ShareItem {
		var items []ShareItem
		for sel := 0; sel < 4; sel++ {
			ct, _ := g.Encrypt(uint64(sel%2), g.RandomQ(), k)
			for _, gd := range gs {
				items = append(items, ShareItem{Ciphertext: ct, Share: g.NewDecryptionShare(ct, gd.poly.SecretKey(), qbar, g.RandomQ()), PublicKey: gd.key})
			}
			// A compensated share for guardian 0 computed by guardian 1.
			part := g.NewCompensatedShare(ct, gs[0].poly.Evaluate(g, gs[1].seq), qbar, g.RandomQ())
			items = append(items, ShareItem{Ciphertext: ct, Share: part, PublicKey: g.NewFixedBase(g.RecoveryKey(gs[1].seq, gs[0].poly.Commitments()))})
		}
		return items
	}
	if err := g.VerifyShareBatch(makeItems(), qbar); err != nil {
		t.Fatalf("valid shares: %v", err)
	}
	items := makeItems()
	items[5].Share.Proof.Response = g.AddQ(items[5].Share.Proof.Response, g.OneQ())
	var be *BatchError
	if err := g.VerifyShareBatch(items, qbar); !errors.As(err, &be) || be.Index != 5 || !strings.Contains(err.Error(), "g^v ≠ a·K^c") {
		t.Fatalf("bad response in share 5: %v", err)
	}
	items = makeItems()
	items[2].PublicKey = gs[0].key // share of guardian 2 checked against guardian 0's key
	if err := g.VerifyShareBatch(items, qbar); !errors.As(err, &be) || be.Index != 2 {
		t.Fatalf("share checked against the wrong key: %v", err)
	}
	for run := 0; run < 64; run++ {
		items := makeItems()
		bad := run % len(items)
		it := &items[bad]
		s := gs[0].poly.SecretKey()
		switch run % 3 {
		case 0: // −M with a proof made for −M: A^v = b·M^c holds up to sign
			m := neg(g.PowP(it.Ciphertext.Pad, s))
			it.Share = DecryptionShare{Share: m, Proof: g.NewChaumPedersenProof(it.Ciphertext, s, m, qbar, g.RandomQ())}
		case 1: // −A: every equation holds exactly, only A is outside the subgroup
			it.Ciphertext.Pad = neg(it.Ciphertext.Pad)
			it.Share = g.NewDecryptionShare(it.Ciphertext, s, qbar, g.RandomQ())
		case 2: // −a with the challenge recomputed: g^v = a·K^c is off by −1
			m := g.PowP(it.Ciphertext.Pad, s)
			u := g.RandomQ()
			a, b := neg(g.GPow(u)), g.PowP(it.Ciphertext.Pad, u)
			c := g.Hash(qbar, it.Ciphertext.Pad, it.Ciphertext.Data, a, b, m)
			it.Share = DecryptionShare{Share: m, Proof: ChaumPedersenProof{Pad: a, Data: b, Challenge: c, Response: g.APlusBCQ(u, c, s)}}
		}
		it.PublicKey = gs[0].key
		if err := it.Share.Proof.checkStatic(g, it.Ciphertext, it.Share.Share, qbar); err != nil {
			t.Fatalf("run %d: planted share must pass the static checks: %v", run, err)
		}
		if err := g.VerifyShareBatch(items, qbar); !errors.As(err, &be) || be.Index != bad {
			t.Fatalf("run %d: planted element in share %d: %v", run, bad, err)
		}
	}
}

// TestBatchNamesFirstInvalidAcrossChunks checks the index arithmetic over
// several MaxBatch chunks and that an equation failure before a hash failure
// is the one reported.
func TestBatchNamesFirstInvalidAcrossChunks(t *testing.T) {
	g := TestGroup()
	qbar := g.Hash("chunks")
	k := g.NewFixedBase(g.GPow(g.RandomQ()))
	items := make([]DisjunctiveItem, 2*MaxBatch+5)
	for i := range items {
		m, r := uint64(i%2), g.RandomQ()
		ct, _ := g.Encrypt(m, r, k)
		p, _ := g.NewDisjunctiveProof(ct, m, r, k, qbar, g.RandomQ())
		items[i] = DisjunctiveItem{Ciphertext: ct, Proof: p}
	}
	if err := g.VerifyDisjunctiveBatch(items, k, qbar); err != nil {
		t.Fatalf("valid items: %v", err)
	}
	equationBad, hashBad := MaxBatch+10, MaxBatch+20
	items[equationBad].Proof.Proof1Response = g.AddQ(items[equationBad].Proof.Proof1Response, g.OneQ())
	items[hashBad].Proof.Challenge = g.AddQ(items[hashBad].Proof.Challenge, g.OneQ())
	var be *BatchError
	err := g.VerifyDisjunctiveBatch(items, k, qbar)
	if !errors.As(err, &be) || be.Index != equationBad || !strings.Contains(err.Error(), "g^v1 ≠ a1·α^c1") {
		t.Fatalf("want item %d's equation failure, got %v", equationBad, err)
	}
	err = g.VerifyDisjunctiveBatch(items[equationBad+1:], k, qbar)
	if !errors.As(err, &be) || be.Index != hashBad-equationBad-1 || !strings.Contains(err.Error(), "challenge") {
		t.Fatalf("want item %d's challenge failure, got %v", hashBad-equationBad-1, err)
	}
	var pe *ProofError
	if !errors.As(err, &pe) || pe.Proof != "disjunctive" {
		t.Fatalf("BatchError does not unwrap to the ProofError: %v", err)
	}
}

func TestConstantBatch(t *testing.T) {
	g := TestGroup()
	qbar := g.Hash("contests")
	k := g.NewFixedBase(g.GPow(g.RandomQ()))
	neg := func(x ElementModP) ElementModP {
		y, _ := g.ElementModPFromBig(new(big.Int).Sub(g.p, x.big()))
		return y
	}
	var valid []ConstantItem
	for b := 0; b < 2; b++ {
		contests, _ := encryptBallot(t, g, k, qbar, [][]uint64{{1, 0, 0}, {0, 1, 1}, {0, 0}}, []int{1, 2, 3})
		for _, c := range contests {
			valid = append(valid, ConstantItem{Ciphertext: g.AddCiphertexts(c.cts...), Proof: c.proof, Limit: c.limit})
		}
	}
	makeItems := func() []ConstantItem { return append([]ConstantItem(nil), valid...) }
	if err := g.VerifyConstantBatch(makeItems(), k, qbar); err != nil {
		t.Fatalf("valid contests: %v", err)
	}
	var be *BatchError
	items := makeItems()
	items[4].Limit++
	if err := g.VerifyConstantBatch(items, k, qbar); !errors.As(err, &be) || be.Index != 4 || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("wrong limit for contest 4: %v", err)
	}
	items = makeItems()
	items[5].Proof.Response = g.AddQ(items[5].Proof.Response, g.OneQ())
	if err := g.VerifyConstantBatch(items, k, qbar); !errors.As(err, &be) || be.Index != 5 || !strings.Contains(err.Error(), "g^v ≠ a·A^c") {
		t.Fatalf("bad response in contest 5: %v", err)
	}
	for run := 0; run < 64; run++ {
		items := makeItems()
		bad := run % len(items)
		it := &items[bad]
		r := g.RandomQ()
		ct, _ := g.Encrypt(uint64(it.Limit), r, k)
		if run%2 == 0 { // −A, proved as if honest: g^v = a·A^c holds whenever c is even
			ct.Pad = neg(ct.Pad)
			it.Proof, _ = g.NewConstantProof(ct, it.Limit, r, k, qbar, g.RandomQ())
		} else { // −a with the challenge recomputed: g^v = a·A^c is off by −1
			u := g.RandomQ()
			a, b := neg(g.GPow(u)), k.Pow(u)
			c := g.Hash(qbar, ct.Pad, ct.Data, a, b)
			it.Proof = ConstantProof{Pad: a, Data: b, Challenge: c, Response: g.APlusBCQ(u, c, r), Constant: it.Limit}
		}
		it.Ciphertext = ct
		if err := it.Proof.checkStatic(g, ct, it.Limit, qbar); err != nil {
			t.Fatalf("run %d: planted proof must pass the static checks: %v", run, err)
		}
		if err := g.VerifyConstantBatch(items, k, qbar); !errors.As(err, &be) || be.Index != bad {
			t.Fatalf("run %d: planted element in contest %d: %v", run, bad, err)
		}
	}
}
