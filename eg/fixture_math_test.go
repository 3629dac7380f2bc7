package eg

import (
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
)

// standardGroup is shared by the fixture tests so that g's table is built once.
var standardGroup = Standard()

func TestStandardMatchesFixtureConstants(t *testing.T) {
	dir := fixtureDir(t, "minimal")
	c := loadJSON(t, filepath.Join(dir, "election_record", "constants.json"))
	g := standardGroup
	for name, want := range map[string]func() string{
		"large_prime": func() string { return g.P().String() },
		"small_prime": func() string { return g.Q().String() },
		"cofactor":    func() string { return g.R().String() },
		"generator":   func() string { return g.G().String() },
	} {
		if got := c.at(name).bigInt().String(); got != want() {
			t.Errorf("%s: constants.json has %s…, Standard has %s…", name, got[:20], want()[:20])
		}
	}
}

// minimalElection is what the fixture tests need from the minimal record.
type minimalElection struct {
	dir   string
	g     *Group
	qbar  ElementModQ
	k     *FixedBase
	rec   func(parts ...string) jsonDoc
	priv  func(id string) jsonDoc
	guard func(id string) jsonDoc
}

func loadMinimal(t *testing.T) minimalElection {
	dir := fixtureDir(t, "minimal")
	g := standardGroup
	ctx := loadJSON(t, filepath.Join(dir, "election_record", "context.json"))
	return minimalElection{
		dir: dir, g: g,
		qbar: ctx.at("crypto_extended_base_hash").q(g),
		k:    g.NewFixedBase(ctx.at("elgamal_public_key").p(g)),
		rec: func(parts ...string) jsonDoc {
			return loadJSON(t, filepath.Join(append([]string{dir, "election_record"}, parts...)...))
		},
		priv: func(id string) jsonDoc {
			return loadJSON(t, filepath.Join(dir, "election_private_data", "private_guardians", "private_guardian_"+id+".json"))
		},
		guard: func(id string) jsonDoc {
			return loadJSON(t, filepath.Join(dir, "election_record", "guardians", "guardian_"+id+".json"))
		},
	}
}

func TestFixtureGuardianKeysAndSchnorrProofs(t *testing.T) {
	e := loadMinimal(t)
	g := e.g
	var keys []ElementModP
	for id := 1; id <= 5; id++ {
		gd := e.guard(strconv.Itoa(id))
		commitments := gd.at("election_commitments").list()
		proofs := gd.at("election_proofs").list()
		ks := make([]ElementModP, len(commitments))
		ps := make([]SchnorrProof, len(proofs))
		for j := range commitments {
			ks[j], ps[j] = commitments[j].p(g), proofs[j].schnorr(g)
			// The challenge is H(K, h): a pure hash check on every proof.
			if !g.Hash(ps[j].PublicKey, ps[j].Commitment).Equal(ps[j].Challenge) {
				t.Errorf("guardian %d coefficient %d: challenge ≠ H(public_key, commitment)", id, j)
			}
		}
		keys = append(keys, gd.at("election_public_key").p(g))
		if id == 1 { // the full check costs 4096-bit exponentiations: one guardian suffices
			if err := g.VerifyCommitments(ks, ps); err != nil {
				t.Errorf("guardian %d: %v", id, err)
			}
			priv := e.priv("1")
			coeffs := priv.at("election_keys", "polynomial", "coefficients").list()
			if !coeffs[0].at("value").q(g).Equal(priv.at("election_keys", "key_pair", "secret_key").q(g)) {
				t.Error("guardian 1: a_0 is not the secret key")
			}
		}
	}
	ctx := e.rec("context.json")
	if got, want := g.JointKey(keys...), ctx.at("elgamal_public_key").p(g); !got.Equal(want) {
		t.Errorf("joint key ∏K_i = %s…, context has %s…", got.Hex()[:16], want.Hex()[:16])
	}
}

func TestFixtureHashOfDescriptions(t *testing.T) {
	e := loadMinimal(t)
	g := e.g
	man := e.rec("manifest.json")
	sel := man.at("contests", "0", "ballot_selections", "0")
	ballots, err := os.ReadDir(filepath.Join(e.dir, "election_record", "submitted_ballots"))
	if err != nil {
		t.Fatal(err)
	}
	b := e.rec("submitted_ballots", ballots[0].Name())
	want := b.at("contests", "0", "ballot_selections", "0", "description_hash").q(g)
	// python: SelectionDescription.crypto_hash = H(object_id, sequence_order, candidate_id)
	got := g.Hash(sel.at("object_id").str(), sel.at("sequence_order").integer(), sel.at("candidate_id").str())
	if !got.Equal(want) {
		t.Errorf("H(object_id, 0, candidate_id) = %s, ballot has %s", got.Hex(), want.Hex())
	}
}

func TestFixtureBallotProofs(t *testing.T) {
	e := loadMinimal(t)
	g := e.g
	votesAllowed := e.rec("manifest.json").at("contests", "0", "votes_allowed").integer()
	names, err := os.ReadDir(filepath.Join(e.dir, "election_record", "submitted_ballots"))
	if err != nil {
		t.Fatal(err)
	}
	var items []DisjunctiveItem
	for bi, n := range names {
		b := e.rec("submitted_ballots", n.Name())
		for _, c := range b.at("contests").list() {
			for _, s := range c.at("ballot_selections").list() {
				items = append(items, DisjunctiveItem{Ciphertext: s.at("ciphertext").ciphertext(g), Proof: s.at("proof").disjunctive(g)})
			}
			if bi == 0 { // one contest proof in full; 4096-bit checks are slow under -race
				acc := c.at("ciphertext_accumulation").ciphertext(g)
				if err := c.at("proof").constant(g).Verify(g, acc, votesAllowed, e.k, e.qbar); err != nil {
					t.Errorf("%s: constant proof: %v", n.Name(), err)
				}
				if err := c.at("proof").constant(g).Verify(g, acc, votesAllowed+1, e.k, e.qbar); err == nil {
					t.Errorf("%s: constant proof accepted against the wrong limit", n.Name())
				}
			}
		}
	}
	// One proof by itself, all of them in one batch.
	if err := items[0].Proof.Verify(g, items[0].Ciphertext, e.k, e.qbar); err != nil {
		t.Fatalf("selection proof 0: %v", err)
	}
	if err := g.VerifyDisjunctiveBatch(items, e.k, e.qbar); err != nil {
		t.Fatalf("batch of %d fixture proofs: %v", len(items), err)
	}
	// p − α in one proof: outside the subgroup, rejected and named.
	bad := append([]DisjunctiveItem(nil), items...)
	neg, _ := g.ElementModPFromBig(new(big.Int).Sub(g.p, bad[3].Ciphertext.Pad.big()))
	bad[3].Ciphertext.Pad = neg
	err = g.VerifyDisjunctiveBatch(bad, e.k, e.qbar)
	var be *BatchError
	if !errors.As(err, &be) || be.Index != 3 {
		t.Fatalf("batch with p − α planted in proof 3: got %v", err)
	}
}

func TestFixtureTallyDecryption(t *testing.T) {
	e := loadMinimal(t)
	g := e.g
	tally := e.rec("tally.json")
	coefficients := e.rec("coefficients.json").at("coefficients").list()
	present := []uint64{1, 2, 3}
	w, err := g.LagrangeCoefficients(present)
	if err != nil {
		t.Fatal(err)
	}
	for i := range w {
		if !w[i].Equal(coefficients[i].q(g)) {
			t.Errorf("Lagrange coefficient of guardian %d = %s, coefficients.json has %s", present[i], w[i].Hex(), coefficients[i].q(g).Hex())
		}
	}
	secrets := map[string]ElementModQ{}
	polys := map[string]*Polynomial{}
	publicKeys := map[string]*FixedBase{}
	commitments := map[string][]ElementModP{}
	for id := 1; id <= 5; id++ {
		sid := strconv.Itoa(id)
		priv := e.priv(sid)
		secrets[sid] = priv.at("election_keys", "key_pair", "secret_key").q(g)
		var coeffs []ElementModQ
		for _, c := range priv.at("election_keys", "polynomial", "coefficients").list() {
			coeffs = append(coeffs, c.at("value").q(g))
			commitments[sid] = append(commitments[sid], c.at("commitment").p(g))
		}
		polys[sid] = &Polynomial{coefficients: coeffs}
		publicKeys[sid] = g.NewFixedBase(priv.at("election_keys", "key_pair", "public_key").p(g))
	}
	dlog := g.NewDiscreteLog(100)
	contest := tally.at("contests", "referendum-pineapple", "selections")
	selIDs := contest.keys()
	sort.Strings(selIDs)
	for si, selID := range selIDs {
		sel := contest.at(selID)
		ct := sel.at("message").ciphertext(g)
		all := map[string]ElementModP{}
		for _, sh := range sel.at("shares").list() {
			id := sh.at("guardian_id").str()
			published := sh.at("share").p(g)
			all[id] = published
			if parts, ok := sh.v.(map[string]any)["recovered_parts"].(map[string]any); ok && parts != nil {
				e.checkCompensated(t, selID, id, ct, sh, published, polys[id], commitments[id], w, si == 0)
				continue
			}
			direct := g.NewDecryptionShare(ct, secrets[id], e.qbar, g.RandomQ())
			if !direct.Share.Equal(published) {
				t.Errorf("%s: guardian %s: A^s_i ≠ the published share", selID, id)
			}
			if si == 0 { // proofs: once per guardian is enough at 4096 bits
				if err := sh.at("proof").chaumPedersen(g).Verify(g, ct, published, publicKeys[id], e.qbar); err != nil {
					t.Errorf("%s: guardian %s: published proof: %v", selID, id, err)
				}
				if err := direct.Verify(g, ct, publicKeys[id], e.qbar); err != nil {
					t.Errorf("%s: guardian %s: fresh proof: %v", selID, id, err)
				}
			}
		}
		shares := make([]ElementModP, 0, 5)
		for id := 1; id <= 5; id++ {
			shares = append(shares, all[strconv.Itoa(id)])
		}
		gt, err := g.CombineShares(ct, shares)
		if err != nil {
			t.Fatal(err)
		}
		if !gt.Equal(sel.at("value").p(g)) {
			t.Errorf("%s: B/∏M_i ≠ published value", selID)
		}
		count, err := dlog.Log(selID, gt)
		if err != nil || count != uint64(sel.at("tally").integer()) {
			t.Errorf("%s: count %d (%v), tally.json says %d", selID, count, err, sel.at("tally").integer())
		}
	}
}

// checkCompensated recomputes each available guardian's M_{l,i} = A^{P_l(i)}
// and recovery key for missing guardian l, and the reconstructed share.
func (e minimalElection) checkCompensated(t *testing.T, selID, missing string, ct Ciphertext, sh jsonDoc, published ElementModP, poly *Polynomial, commitments []ElementModP, w []ElementModQ, proofs bool) {
	t.Helper()
	g := e.g
	parts := make([]ElementModP, 3)
	for i, avail := range []string{"1", "2", "3"} {
		rp := sh.at("recovered_parts", avail)
		seq := uint64(i + 1)
		backup := poly.Evaluate(g, seq)
		mine := g.NewCompensatedShare(ct, backup, e.qbar, g.RandomQ())
		parts[i] = rp.at("share").p(g)
		if !mine.Share.Equal(parts[i]) {
			t.Errorf("%s: M_{%s,%s} = A^P(%d) ≠ published", selID, missing, avail, seq)
		}
		rk := g.RecoveryKey(seq, commitments)
		if !rk.Equal(rp.at("recovery_key").p(g)) {
			t.Errorf("%s: recovery key for %s from %s ≠ published", selID, missing, avail)
		}
		if proofs && i == 0 {
			if err := rp.at("proof").chaumPedersen(g).Verify(g, ct, parts[i], g.NewFixedBase(rk), e.qbar); err != nil {
				t.Errorf("%s: published compensated proof: %v", selID, err)
			}
			if err := mine.Verify(g, ct, g.NewFixedBase(rk), e.qbar); err != nil {
				t.Errorf("%s: fresh compensated proof: %v", selID, err)
			}
		}
	}
	rebuilt, err := g.ReconstructShare(parts, w)
	if err != nil {
		t.Fatal(err)
	}
	if !rebuilt.Equal(published) {
		t.Errorf("%s: reconstructed share of %s ≠ published", selID, missing)
	}
}

// TestFixtureProofsReproducedBitForBit re-derives a ballot's nonces and proof
// seeds as electionguard-python 1.x's encrypt_ballot/encrypt_contest/
// encrypt_selection do (seed H(manifest hash, ballot id, ballot nonce), then
// Nonces(description hash, seed)[sequence order] for the nonce and [0] for the
// proof seed) and checks that Encrypt, NewDisjunctiveProof and
// NewConstantProof reproduce every published ciphertext and proof of one
// contest exactly, placeholders and both plaintexts included.
func TestFixtureProofsReproducedBitForBit(t *testing.T) {
	e := loadMinimal(t)
	g := e.g
	dir := filepath.Join(e.dir, "election_private_data", "ciphertext_ballots")
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	votesAllowed := e.rec("manifest.json").at("contests", "0", "votes_allowed").integer()
	seen := map[uint64]bool{}
	for _, n := range names {
		b := loadJSON(t, filepath.Join(dir, n.Name()))
		ballotSeed := g.Hash(b.at("manifest_hash").q(g), b.at("object_id").str(), b.at("nonce").q(g))
		contest := b.at("contests", "0")
		cn := g.NewNonces(contest.at("description_hash").q(g), ballotSeed)
		contestNonce := cn.Get(contest.at("sequence_order").integer())
		if !contestNonce.Equal(contest.at("nonce").q(g)) {
			t.Fatalf("%s: contest nonce not reproduced", n.Name())
		}
		aggregate := g.ZeroQ()
		for _, sel := range contest.at("ballot_selections").list() {
			sn := g.NewNonces(sel.at("description_hash").q(g), contestNonce)
			nonce := sn.Get(sel.at("sequence_order").integer())
			if !nonce.Equal(sel.at("nonce").q(g)) {
				t.Fatalf("%s: selection nonce not reproduced", n.Name())
			}
			aggregate = g.AddQ(aggregate, nonce)
			want := sel.at("ciphertext").ciphertext(g)
			vote := uint64(2)
			for m := uint64(0); m <= 1; m++ {
				if ct, err := g.Encrypt(m, nonce, e.k); err == nil && ct.Equal(want) {
					vote = m
				}
			}
			if vote > 1 {
				t.Fatalf("%s: Encrypt(0 or 1, nonce, K) does not reproduce the ciphertext", n.Name())
			}
			seen[vote] = true
			proof, err := g.NewDisjunctiveProof(want, vote, nonce, e.k, e.qbar, sn.Get(0))
			if err != nil {
				t.Fatal(err)
			}
			if !disjunctiveEqual(proof, sel.at("proof").disjunctive(g)) {
				t.Fatalf("%s: NewDisjunctiveProof(%d) does not reproduce the published proof", n.Name(), vote)
			}
		}
		acc := contest.at("ciphertext_accumulation").ciphertext(g)
		cp, err := g.NewConstantProof(acc, votesAllowed, aggregate, e.k, e.qbar, cn.Get(0))
		if err != nil {
			t.Fatal(err)
		}
		if !constantEqual(cp, contest.at("proof").constant(g)) {
			t.Fatalf("%s: NewConstantProof does not reproduce the published proof", n.Name())
		}
		if seen[0] && seen[1] {
			return // both branches reproduced; more ballots only cost time
		}
	}
	t.Fatalf("the fixture ballots did not exercise both plaintexts: %v", seen)
}

func constantEqual(a, b ConstantProof) bool {
	return a.Pad.Equal(b.Pad) && a.Data.Equal(b.Data) && a.Challenge.Equal(b.Challenge) &&
		a.Response.Equal(b.Response) && a.Constant == b.Constant
}

func disjunctiveEqual(a, b DisjunctiveProof) bool {
	return a.Proof0Pad.Equal(b.Proof0Pad) && a.Proof0Data.Equal(b.Proof0Data) &&
		a.Proof1Pad.Equal(b.Proof1Pad) && a.Proof1Data.Equal(b.Proof1Data) &&
		a.Proof0Challenge.Equal(b.Proof0Challenge) && a.Proof1Challenge.Equal(b.Proof1Challenge) &&
		a.Challenge.Equal(b.Challenge) && a.Proof0Response.Equal(b.Proof0Response) && a.Proof1Response.Equal(b.Proof1Response)
}
