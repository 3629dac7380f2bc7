package record

import (
	"errors"
	"math/big"
	"os"
	"strings"
	"testing"

	"github.com/tallyq/tallyq/eg"
)

// clone deep-copies a ballot through its encoding.
func clone(t testing.TB, b *SubmittedBallot) *SubmittedBallot {
	t.Helper()
	var out SubmittedBallot
	if err := unmarshal(mustMarshal(t.(*testing.T), b), &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// tamper is one way of breaking a ballot so that exactly one check fails.
type tamper struct {
	name      string
	check     Check
	contest   string // expected ContestID ("" for the ballot)
	selection string // expected SelectionID
	apply     func(t *testing.T, gen *generated, b *SubmittedBallot)
}

// wardBallot is a valid ballot of the style with every contest, spoiled or cast.
func wardBallot(t *testing.T, gen *generated) *SubmittedBallot {
	t.Helper()
	x := gen.election.NewEncrypter(EncryptionDevice{DeviceID: 1, Location: "negative"})
	m := gen.manifest
	p := &PlaintextBallot{ObjectID: "ballot-negative", StyleID: "style-ward-1", Contests: []PlaintextBallotContest{
		{ObjectID: "mayor", BallotSelections: []PlaintextBallotSelection{{ObjectID: m.Contests[0].BallotSelections[1].ObjectID, Vote: 1}}},
		{ObjectID: "council", BallotSelections: []PlaintextBallotSelection{{ObjectID: m.Contests[1].BallotSelections[0].ObjectID, Vote: 1}}},
	}}
	b, err := x.Encrypt(p, BallotCast, 1700000000)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func bump(h Hex) Hex { return HexFromBig(new(big.Int).Add(h.Big(), big.NewInt(1))) }

// negate replaces x by p − x, which is outside the order-q subgroup (−1 is not a square
// mod p), though below p.
func negate(g *eg.Group, h Hex) Hex { return HexFromBig(new(big.Int).Sub(g.P(), h.Big())) }

var tampers = []tamper{
	{"ballot nonce", CheckNonce, "", "", func(t *testing.T, _ *generated, b *SubmittedBallot) { n := MustParseHex("01"); b.Nonce = &n }},
	{"selection nonce", CheckNonce, "council", "council-sel-2", func(t *testing.T, _ *generated, b *SubmittedBallot) {
		n := MustParseHex("01")
		b.Contests[1].BallotSelections[2].Nonce = &n
	}},
	{"manifest hash", CheckManifestHash, "", "", func(t *testing.T, _ *generated, b *SubmittedBallot) { b.ManifestHash = bump(b.ManifestHash) }},
	{"unknown style", CheckStyle, "", "", func(t *testing.T, _ *generated, b *SubmittedBallot) { b.StyleID = "style-elsewhere" }},
	{"another style's contests", CheckContests, "council", "", func(t *testing.T, _ *generated, b *SubmittedBallot) { b.StyleID = "style-city" }},
	{"contest missing", CheckContests, "measure", "", func(t *testing.T, _ *generated, b *SubmittedBallot) { b.Contests = b.Contests[:2] }},
	{"contest twice", CheckContests, "mayor", "", func(t *testing.T, _ *generated, b *SubmittedBallot) { b.Contests[1] = b.Contests[0] }},
	{"contest description hash", CheckDescriptionHash, "council", "", func(t *testing.T, _ *generated, b *SubmittedBallot) {
		b.Contests[1].DescriptionHash = bump(b.Contests[1].DescriptionHash)
	}},
	{"placeholder missing", CheckSelections, "council", "", func(t *testing.T, _ *generated, b *SubmittedBallot) {
		c := &b.Contests[1]
		c.BallotSelections = c.BallotSelections[:len(c.BallotSelections)-1]
	}},
	{"extra placeholder", CheckSelections, "mayor", "", func(t *testing.T, _ *generated, b *SubmittedBallot) {
		c := &b.Contests[0]
		c.BallotSelections = append(c.BallotSelections, c.BallotSelections[len(c.BallotSelections)-1])
	}},
	{"placeholder flag", CheckSelections, "mayor", "mayor-sel-0", func(t *testing.T, _ *generated, b *SubmittedBallot) {
		b.Contests[0].BallotSelections[0].IsPlaceholderSelection = true
	}},
	{"selection description hash", CheckDescriptionHash, "mayor", "mayor-sel-2", func(t *testing.T, _ *generated, b *SubmittedBallot) {
		b.Contests[0].BallotSelections[2].DescriptionHash = bump(b.Contests[0].BallotSelections[2].DescriptionHash)
	}},
	{"alpha and beta outside subgroup, proofs and hashes consistent", CheckSubgroup, "council", "council-sel-1",
		func(t *testing.T, gen *generated, b *SubmittedBallot) {
			reencryptContest(t, gen, b, 1, map[string]int{"council-sel-0": 1}, 2, "council-sel-1")
		}},
	{"placeholder outside subgroup, proofs and hashes consistent", CheckSubgroup, "measure", "measure-7-placeholder",
		func(t *testing.T, gen *generated, b *SubmittedBallot) {
			reencryptContest(t, gen, b, 2, map[string]int{}, 1, "measure-7-placeholder")
		}},
	{"beta not below p", CheckSubgroup, "mayor", "mayor-sel-1", func(t *testing.T, gen *generated, b *SubmittedBallot) {
		s := &b.Contests[0].BallotSelections[1]
		s.Ciphertext.Data = HexFromBig(new(big.Int).Add(gen.g.P(), s.Ciphertext.Data.Big()))
	}},
	{"selection crypto hash", CheckCryptoHash, "council", "council-sel-3", func(t *testing.T, _ *generated, b *SubmittedBallot) {
		b.Contests[1].BallotSelections[3].CryptoHash = bump(b.Contests[1].BallotSelections[3].CryptoHash)
	}},
	{"contest crypto hash", CheckCryptoHash, "measure", "", func(t *testing.T, _ *generated, b *SubmittedBallot) {
		b.Contests[2].CryptoHash = bump(b.Contests[2].CryptoHash)
	}},
	{"ballot crypto hash", CheckCryptoHash, "", "", func(t *testing.T, _ *generated, b *SubmittedBallot) { b.CryptoHash = bump(b.CryptoHash) }},
	{"code", CheckCode, "", "", func(t *testing.T, _ *generated, b *SubmittedBallot) { b.Code = bump(b.Code) }},
	{"selection challenge", CheckChallenge, "mayor", "mayor-sel-0", func(t *testing.T, gen *generated, b *SubmittedBallot) {
		// Keep c = c0 + c1 so only the hash fails.
		p := b.Contests[0].BallotSelections[0].Proof
		p.ProofZeroChallenge, p.Challenge = bump(p.ProofZeroChallenge), bump(p.Challenge)
	}},
	{"selection challenge split", CheckChallenge, "mayor", "mayor-sel-0", func(t *testing.T, gen *generated, b *SubmittedBallot) {
		p := b.Contests[0].BallotSelections[0].Proof
		p.ProofZeroChallenge = bump(p.ProofZeroChallenge)
	}},
	{"selection proof response", CheckSelectionProof, "council", "council-sel-0", func(t *testing.T, _ *generated, b *SubmittedBallot) {
		p := b.Contests[1].BallotSelections[0].Proof
		p.ProofOneResponse = bump(p.ProofOneResponse)
	}},
	{"selection proof missing", CheckSelectionProof, "council", "council-sel-0", func(t *testing.T, _ *generated, b *SubmittedBallot) {
		b.Contests[1].BallotSelections[0].Proof = nil
	}},
	{"accumulation", CheckAccumulation, "measure", "", func(t *testing.T, gen *generated, b *SubmittedBallot) {
		// Still a pair of subgroup elements: multiply α by g.
		acc := &b.Contests[2].CiphertextAccumulation
		pad, _ := acc.Pad.P(gen.g)
		acc.Pad = HexP(gen.g.MulP(pad, gen.g.Generator()))
	}},
	{"contest challenge", CheckChallenge, "council", "", func(t *testing.T, _ *generated, b *SubmittedBallot) {
		b.Contests[1].Proof.Challenge = bump(b.Contests[1].Proof.Challenge)
	}},
	{"contest proof response", CheckContestProof, "mayor", "", func(t *testing.T, _ *generated, b *SubmittedBallot) {
		b.Contests[0].Proof.Response = bump(b.Contests[0].Proof.Response)
	}},
	{"contest proof claims another constant", CheckContestProof, "council", "", func(t *testing.T, _ *generated, b *SubmittedBallot) {
		b.Contests[1].Proof.Constant = 3
	}},
	{"overvote with a valid proof of its own sum", CheckContestProof, "mayor", "", overvote},
}

// overvote re-encrypts the mayor's contest (limit 1) with two selections at 1 and an
// honest constant proof that they sum to 2, fixing every hash: only the check against the
// manifest's limit catches it.
func overvote(t *testing.T, gen *generated, b *SubmittedBallot) {
	reencryptContest(t, gen, b, 0, map[string]int{"mayor-sel-0": 1, "mayor-sel-1": 1}, 2, "")
}

// reencryptContest replaces contest ci of the ballot by a fresh encryption of votes
// (placeholders included: absent ids are 0) with a constant proof of sum, fixing every
// hash and the code. When negated names a selection, its α and β are replaced by p − α
// and p − β (outside the subgroup) and the proofs are drawn until their challenges are
// even, so that every equation still holds: only the subgroup check can catch it.
func reencryptContest(t *testing.T, gen *generated, b *SubmittedBallot, ci int, votes map[string]int, sum int, negated string) {
	t.Helper()
	g, e := gen.g, gen.election
	c := &b.Contests[ci]
	info := e.contests[c.ObjectID]
	var cts []eg.Ciphertext
	var hashes []sequenced
	nonces := g.ZeroQ()
	minusOne, _ := g.ElementModPFromBig(new(big.Int).Sub(g.P(), big.NewInt(1)))
	for i, s := range info.selections {
		vote := votes[s.desc.ObjectID]
		nonce := g.RandomQ()
		ct, err := g.Encrypt(uint64(vote), nonce, e.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		if s.desc.ObjectID == negated {
			ct = eg.Ciphertext{Pad: g.MulP(ct.Pad, minusOne), Data: g.MulP(ct.Data, minusOne)}
		}
		var proof eg.DisjunctiveProof
		for {
			if proof, err = g.NewDisjunctiveProof(ct, uint64(vote), nonce, e.PublicKey, e.ExtendedBaseHash, g.RandomQ()); err != nil {
				t.Fatal(err)
			}
			real := proof.Proof0Challenge
			if vote == 1 {
				real = proof.Proof1Challenge
			}
			if s.desc.ObjectID != negated || real.Big().Bit(0) == 0 {
				break
			}
		}
		h := selectionHash(g, s.desc.ObjectID, s.hash, ct)
		c.BallotSelections[i] = BallotSelection{ObjectID: s.desc.ObjectID, SequenceOrder: s.desc.SequenceOrder,
			DescriptionHash: HexQ(s.hash), Ciphertext: CiphertextOf(ct), CryptoHash: HexQ(h),
			IsPlaceholderSelection: s.placeholder, Proof: DisjunctiveProofOf(proof)}
		cts, hashes = append(cts, ct), append(hashes, sequenced{s.desc.SequenceOrder, h})
		nonces = g.AddQ(nonces, nonce)
	}
	acc := g.AddCiphertexts(cts...)
	var proof eg.ConstantProof
	for {
		var err error
		if proof, err = g.NewConstantProof(acc, sum, nonces, e.PublicKey, e.ExtendedBaseHash, g.RandomQ()); err != nil {
			t.Fatal(err)
		}
		if negated == "" || proof.Challenge.Big().Bit(0) == 0 {
			break
		}
	}
	if negated == "" && proof.Verify(g, acc, sum, e.PublicKey, e.ExtendedBaseHash) != nil {
		t.Fatalf("the re-encrypted contest's proof of %d does not verify for %d", sum, sum)
	}
	ch := contestHash(g, c.ObjectID, info.hash, inSequence(hashes))
	c.CiphertextAccumulation, c.CryptoHash, c.Proof = CiphertextOf(acc), HexQ(ch), ConstantProofOf(proof)
	refreshBallotHashes(t, gen, b)
}

// refreshBallotHashes recomputes the ballot's crypto hash and code from its contests.
func refreshBallotHashes(t *testing.T, gen *generated, b *SubmittedBallot) {
	r, err := gen.election.Relabel(b, b.ObjectID)
	if err != nil {
		t.Fatal(err)
	}
	b.CryptoHash, b.Code = r.CryptoHash, r.Code
}

// TestValidationNegative breaks a valid ballot once per check and asserts the error names
// that check, the ballot, the contest and the selection, one at a time and in a batch.
func TestValidationNegative(t *testing.T) {
	gen := generatedElection(t)
	valid := wardBallot(t, gen)
	if err := gen.election.ValidateBallot(valid); err != nil {
		t.Fatalf("the untampered ballot is invalid: %v", err)
	}
	checks := map[Check]bool{}
	var batch []*SubmittedBallot
	var want []tamper
	for _, tc := range tampers {
		b := clone(t, valid)
		tc.apply(t, gen, b)
		err := gen.election.ValidateBallot(b)
		assertBallotError(t, tc, err)
		checks[tc.check] = true
		batch = append(batch, b, clone(t, valid))
		want = append(want, tc)
	}
	errs := gen.election.ValidateBallots(batch)
	for i, tc := range want {
		t.Run("batch/"+tc.name, func(t *testing.T) { assertBallotError(t, tc, errs[2*i]) })
		if errs[2*i+1] != nil {
			t.Errorf("batch: a valid ballot next to %q fails: %v", tc.name, errs[2*i+1])
		}
	}
	for _, c := range []Check{CheckNonce, CheckManifestHash, CheckStyle, CheckContests, CheckDescriptionHash, CheckSelections,
		CheckSubgroup, CheckCryptoHash, CheckCode, CheckChallenge, CheckSelectionProof, CheckAccumulation, CheckContestProof} {
		if !checks[c] {
			t.Errorf("no negative test for check %q", c)
		}
	}
}

func assertBallotError(t *testing.T, tc tamper, err error) {
	t.Helper()
	var be *BallotError
	if !errors.As(err, &be) {
		t.Errorf("%s: got %v, want a *BallotError", tc.name, err)
		return
	}
	if be.Check != tc.check || be.BallotID != "ballot-negative" || be.ContestID != tc.contest || be.SelectionID != tc.selection {
		t.Errorf("%s: got check %q at %q/%q/%q (%v), want %q at ballot-negative/%q/%q", tc.name, be.Check, be.BallotID, be.ContestID, be.SelectionID, be.Err, tc.check, tc.contest, tc.selection)
	}
}

// TestFixtureCiphertextBallotHasNonces: the fixtures' private ciphertext ballots keep
// their nonces, which a submitted ballot must not.
func TestFixtureCiphertextBallotHasNonces(t *testing.T) {
	fx := loadFixture(t, "minimal")
	n := 0
	for b, err := range eachJSON[SubmittedBallot](os.DirFS(privateDir(t, "minimal")), "ciphertext_ballots") {
		if err != nil {
			t.Fatal(err)
		}
		n++
		var be *BallotError
		if err := fx.election.ValidateBallot(b); !errors.As(err, &be) || be.Check != CheckNonce {
			t.Errorf("%s: got %v, want the nonce check to fail", b.ObjectID, err)
		}
	}
	if n == 0 {
		t.Fatal("no ciphertext ballots")
	}
}

// TestFixtureTamperedBallot breaks one fixture ballot's selection proof response and
// checks the 4096-bit validation names it, singly and batched.
func TestFixtureTamperedBallot(t *testing.T) {
	fx := loadFixture(t, "minimal")
	b := clone(t, fx.ballots[0])
	s := &b.Contests[0].BallotSelections[1]
	s.Proof.ProofZeroResponse = bump(s.Proof.ProofZeroResponse)
	for i, err := range []error{fx.election.ValidateBallot(b), fx.election.ValidateBallots([]*SubmittedBallot{fx.ballots[1], b})[1]} {
		var be *BallotError
		if !errors.As(err, &be) || be.Check != CheckSelectionProof || be.BallotID != b.ObjectID || be.ContestID != b.Contests[0].ObjectID || be.SelectionID != s.ObjectID {
			t.Errorf("run %d: got %v, want the selection proof of %s to fail", i, err, s.ObjectID)
		}
	}
}

// TestManifestValidateRejects: a manifest that ballots could not be checked against is
// refused before any ballot is, with an error naming what is wrong.
func TestManifestValidateRejects(t *testing.T) {
	if err := testManifest().Validate(); err != nil {
		t.Fatalf("the test manifest is invalid: %v", err)
	}
	three := 3
	for _, tc := range []struct {
		name   string
		mutate func(m *Manifest)
		want   string
	}{
		{"votes_allowed other than number_elected", func(m *Manifest) { m.Contests[1].VotesAllowed = &three }, `contest "council" allows 3 votes but elects 2`},
		{"number_elected above the selections", func(m *Manifest) { m.Contests[0].NumberElected = 4 }, `contest "mayor" has 3 selections and number_elected 4`},
		{"no number_elected", func(m *Manifest) { m.Contests[2].NumberElected = 0 }, `contest "measure" has 2 selections and number_elected 0`},
		{"unknown district", func(m *Manifest) { m.Contests[2].ElectoralDistrictID = "county" }, `unknown district "county"`},
		{"contest twice", func(m *Manifest) { m.Contests[2].ObjectID = "mayor" }, `contest "mayor" appears twice`},
		{"selection sequence order twice", func(m *Manifest) {
			m.Contests[1].BallotSelections[1].SequenceOrder = m.Contests[1].BallotSelections[0].SequenceOrder
		}, "sequence order"},
		{"style with an unknown unit", func(m *Manifest) { m.BallotStyles[0].GeopoliticalUnitIDs = []string{"ward-9"} }, `unknown geopolitical unit "ward-9"`},
		{"bad date", func(m *Manifest) { m.EndDate = "tomorrow" }, "manifest: "},
	} {
		m := testManifest()
		tc.mutate(m)
		if err := m.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate = %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}
