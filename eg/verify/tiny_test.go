package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"testing/fstest"

	"github.com/tallyq/tallyq/eg"
)

// tinyRecord builds, in the test group and from the formulas alone, the smallest
// complete record: three guardians (quorum 2, guardian 3 missing at decryption), one
// contest of two selections, two cast ballots and one spoiled one, every proof made by
// the prover's side of the equations the verifier checks. It costs milliseconds, so
// fuzzing starts from a valid record; it shares no code with eg/record.
func tinyRecord(t testing.TB) fstest.MapFS {
	t.Helper()
	b := &tinyBuilder{g: eg.TestGroup(), fs: fstest.MapFS{}}
	b.header()
	b.ballots([][]uint64{{1, 0}, {0, 1}, {1, 0}}, []int{stateCast, stateCast, stateSpoiled})
	b.decrypt()
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.fs
}

type tinyBuilder struct {
	g   *eg.Group
	fs  fstest.MapFS
	err error

	e        *election
	coeffs   [][]eg.ElementModQ // guardian i's polynomial a_{i,0}, a_{i,1}
	contest  *contestInfo
	tally    []ciphertext // cast product per manifest selection
	spoiled  ballotJSON
	ballotNo int
}

func (b *tinyBuilder) put(name string, v any) {
	data, err := json.Marshal(v)
	if err != nil && b.err == nil {
		b.err = err
	}
	b.fs[name] = &fstest.MapFile{Data: data}
}

func hx[T interface{ Hex() string }](x T) hexElem { return hexElem{Data: x.Hex()} }

func ctJSON(c ciphertext) ciphertextJSON { return ciphertextJSON{Pad: hx(c.pad), Data: hx(c.data)} }

// header writes constants, manifest, guardians, context and the device.
func (b *tinyBuilder) header() {
	g := b.g
	one := 1
	m := manifestJSON{ElectionScopeID: "tiny", Type: "general", StartDate: "2026-11-03T06:00:00-05:00", EndDate: "2026-11-03T20:00:00-05:00",
		GeopoliticalUnits: []unitJSON{{ObjectID: "county", Name: "County", Type: "county"}},
		Contests: []contestJSON{{ObjectID: "measure", ElectoralDistrictID: "county", VoteVariation: "one_of_m", NumberElected: 1, VotesAllowed: &one,
			Name: "Measure", BallotSelections: []selectionDescJSON{{ObjectID: "yes", SequenceOrder: 0, CandidateID: "y"}, {ObjectID: "no", SequenceOrder: 1, CandidateID: "n"}}}},
		BallotStyles: []ballotStyleJSON{{ObjectID: "style", GeopoliticalUnitIDs: []string{"county"}}},
		Name:         &textJSON{Text: []languageJSON{{Value: "Tiny", Language: "en"}}}}
	b.put(constantsFile, constantsJSON{LargePrime: g.P(), SmallPrime: g.Q(), Cofactor: g.R(), Generator: g.G()})
	b.put(manifestFile, m)
	idx, err := m.index(g)
	if err != nil {
		b.err = err
		return
	}
	mh, _ := m.manifestHash(g)
	b.e = &election{g: g, manifest: idx, manifestHash: mh, n: 3, quorum: 2, byID: map[string]*guardian{}}
	b.contest = idx.contests[0]
	joint := g.OneP()
	var all []eg.ElementModP
	for i := 1; i <= 3; i++ {
		a := []eg.ElementModQ{g.RandomQ(), g.RandomQ()}
		b.coeffs = append(b.coeffs, a)
		r := guardianJSON{GuardianID: fmt.Sprint(i), SequenceOrder: i}
		gd := &guardian{id: r.GuardianID, x: i}
		for _, aj := range a {
			k := g.GPow(aj)
			u := g.RandomQ()
			h := g.GPow(u)
			c := g.Hash(k, h)
			r.ElectionCommitments = append(r.ElectionCommitments, hx(k))
			r.ElectionProofs = append(r.ElectionProofs, schnorrJSON{PublicKey: hx(k), Commitment: hx(h), Challenge: hx(c), Response: hx(g.APlusBCQ(u, c, aj))})
			gd.commitments = append(gd.commitments, k)
			all = append(all, k)
		}
		r.ElectionPublicKey = r.ElectionCommitments[0]
		gd.key = g.NewFixedBase(gd.commitments[0])
		b.e.guardians = append(b.e.guardians, gd)
		b.e.byID[gd.id] = gd
		joint = g.MulP(joint, gd.commitments[0])
		b.put(fmt.Sprintf("%s/guardian_%d.json", guardiansDir, i), r)
	}
	commitmentHash := g.Hash(all)
	base := g.Hash(pyHex(g.P().Text(16)), pyHex(g.Q().Text(16)), pyHex(g.G().Text(16)), 3, 2, mh)
	b.e.qbar = g.Hash(base, commitmentHash)
	b.e.key = g.NewFixedBase(joint)
	b.put(contextFile, contextJSON{NumberOfGuardians: 3, Quorum: 2, ElGamalPublicKey: hx(joint), CommitmentHash: hx(commitmentHash),
		ManifestHash: hx(mh), CryptoBaseHash: hx(base), CryptoExtendedBaseHash: hx(b.e.qbar)})
	b.put(devicesDir+"/device_1.json", deviceJSON{DeviceID: 1, SessionID: 2, LaunchCode: 3, Location: "hall"})
}

// ballots encrypts one ballot per vote list (the manifest's selections; the
// placeholder takes what is left of the limit), chaining their codes.
func (b *tinyBuilder) ballots(votes [][]uint64, states []int) {
	if b.err != nil {
		return
	}
	g, e := b.g, b.e
	seed := g.Hash(int64(1), int64(2), int64(3), "hall")
	b.tally = []ciphertext{{g.OneP(), g.OneP()}, {g.OneP(), g.OneP()}}
	for n, v := range votes {
		c := ballotContestJSON{ObjectID: b.contest.id, DescriptionHash: hx(b.contest.hash)}
		sum := uint64(0)
		for _, x := range v {
			sum += x
		}
		acc, nonces := ciphertext{g.OneP(), g.OneP()}, g.ZeroQ()
		items := []any{b.contest.id, b.contest.hash}
		for k, s := range b.contest.selections {
			m := 1 - sum // the placeholder
			if k < len(v) {
				m = v[k]
			}
			r := g.RandomQ()
			ct := ciphertext{g.GPow(r), g.MulP(g.GPow(g.ElementModQFromUint64(m)), e.key.Pow(r))}
			h := g.Hash(s.id, s.hash, g.Hash(ct.pad, ct.data))
			c.BallotSelections = append(c.BallotSelections, ballotSelectionJSON{ObjectID: s.id, SequenceOrder: s.seq, DescriptionHash: hx(s.hash),
				Ciphertext: ctJSON(ct), CryptoHash: hx(h), IsPlaceholderSelection: s.placeholder, Proof: b.disjunctive(ct, m, r)})
			acc, nonces = acc.mul(g, ct), g.AddQ(nonces, r)
			items = append(items, h)
			if states[n] == stateCast && !s.placeholder {
				b.tally[k] = b.tally[k].mul(g, ct)
			}
		}
		c.CiphertextAccumulation, c.CryptoHash = ctJSON(acc), hx(g.Hash(items...))
		u := g.RandomQ()
		pa, pb := g.GPow(u), e.key.Pow(u)
		ch := g.Hash(e.qbar, acc.pad, acc.data, pa, pb)
		c.Proof = &constantProofJSON{Pad: hx(pa), Data: hx(pb), Challenge: hx(ch), Response: hx(g.APlusBCQ(u, ch, nonces)), Constant: 1}
		id := fmt.Sprintf("ballot-%d", n)
		hash := g.Hash(id, e.manifestHash, g.Hash(items...))
		code := g.Hash(seed, int64(n), hash)
		bj := ballotJSON{ObjectID: id, StyleID: "style", ManifestHash: hx(e.manifestHash), CodeSeed: hx(seed), Contests: []ballotContestJSON{c},
			Code: hx(code), Timestamp: int64(n), CryptoHash: hx(hash), State: states[n]}
		b.put(fmt.Sprintf("%s/submitted_ballot_%s.json", submittedDir, id), bj)
		if states[n] == stateSpoiled {
			b.spoiled = bj
		}
		seed = code
	}
}

// disjunctive proves ct = (g^r, g^m·K^r) encrypts m ∈ {0, 1}: the true branch with a
// fresh nonce, the other simulated from a chosen challenge and response.
func (b *tinyBuilder) disjunctive(ct ciphertext, m uint64, r eg.ElementModQ) *disjunctiveProofJSON {
	g, k := b.g, b.e.key
	inv := func(x eg.ElementModP, c eg.ElementModQ) eg.ElementModP { return g.PowP(x, g.NegQ(c)) }
	u, cs, vs := g.RandomQ(), g.RandomQ(), g.RandomQ()
	var a0, b0, a1, b1 eg.ElementModP
	if m == 0 {
		a0, b0 = g.GPow(u), k.Pow(u)
		a1, b1 = g.MulP(g.GPow(vs), inv(ct.pad, cs)), g.MulP(g.GPow(cs), k.Pow(vs), inv(ct.data, cs))
	} else {
		a0, b0 = g.MulP(g.GPow(vs), inv(ct.pad, cs)), g.MulP(k.Pow(vs), inv(ct.data, cs))
		a1, b1 = g.GPow(u), k.Pow(u)
	}
	c := g.Hash(b.e.qbar, ct.pad, ct.data, a0, b0, a1, b1)
	cReal := g.SubQ(c, cs)
	c0, c1, v0, v1 := cReal, cs, g.APlusBCQ(u, cReal, r), vs
	if m == 1 {
		c0, c1, v0, v1 = cs, cReal, vs, g.APlusBCQ(u, cReal, r)
	}
	return &disjunctiveProofJSON{ProofZeroPad: hx(a0), ProofZeroData: hx(b0), ProofOnePad: hx(a1), ProofOneData: hx(b1),
		ProofZeroChallenge: hx(c0), ProofOneChallenge: hx(c1), Challenge: hx(c), ProofZeroResponse: hx(v0), ProofOneResponse: hx(v1)}
}

// decrypt writes the encrypted tally, tally.json, the spoiled ballot's decryption and
// coefficients.json, guardians 1 and 2 decrypting and compensating for guardian 3.
func (b *tinyBuilder) decrypt() {
	if b.err != nil {
		return
	}
	g := b.g
	et := encryptedTallyJSON{ObjectID: "results", Contests: map[string]encryptedTallyContestJSON{b.contest.id: {ObjectID: b.contest.id,
		DescriptionHash: hx(b.contest.hash), Selections: map[string]encryptedTallySelectionJSON{}}}}
	tally := plaintextTallyJSON{ObjectID: "results", Contests: map[string]plaintextTallyContestJSON{b.contest.id: {ObjectID: b.contest.id, Selections: map[string]plaintextTallySelectionJSON{}}}}
	for k, s := range b.contest.realSelections() {
		et.Contests[b.contest.id].Selections[s.id] = encryptedTallySelectionJSON{ObjectID: s.id, DescriptionHash: hx(s.hash), Ciphertext: ctJSON(b.tally[k])}
		tally.Contests[b.contest.id].Selections[s.id] = b.decryptSelection(s.id, b.tally[k], 1)
	}
	b.put(encryptedTallyFile, et)
	b.put(tallyFile, tally)
	sp := plaintextTallyJSON{ObjectID: b.spoiled.ObjectID, Contests: map[string]plaintextTallyContestJSON{b.contest.id: {ObjectID: b.contest.id, Selections: map[string]plaintextTallySelectionJSON{}}}}
	for _, s := range b.spoiled.Contests[0].BallotSelections {
		d := decoder{g: g}
		sp.Contests[b.contest.id].Selections[s.ObjectID] = b.decryptSelection(s.ObjectID, d.ciphertext("", s.Ciphertext), 1)
	}
	b.put(spoiledDir+"/spoiled_ballot_"+b.spoiled.ObjectID+".json", sp)
	ws, _ := lagrange(g, []int{1, 2})
	b.put(coefficientsFile, coefficientsJSON{Coefficients: []hexElem{hx(ws[0]), hx(ws[1])}})
}

// decryptSelection decrypts ct with guardians 1 and 2 and rebuilds guardian 3's share;
// the count is found by trying 0..maxCount.
func (b *tinyBuilder) decryptSelection(id string, ct ciphertext, maxCount int64) plaintextTallySelectionJSON {
	g := b.g
	poly := func(i int, x int) eg.ElementModQ { // P_i(x)
		return g.AddQ(b.coeffs[i][0], g.MulQ(b.coeffs[i][1], g.ElementModQFromUint64(uint64(x))))
	}
	prove := func(secret eg.ElementModQ, m eg.ElementModP) *chaumPedersenJSON {
		u := g.RandomQ()
		a, bb := g.GPow(u), g.PowP(ct.pad, u)
		c := g.Hash(b.e.qbar, ct.pad, ct.data, a, bb, m)
		return &chaumPedersenJSON{Pad: hx(a), Data: hx(bb), Challenge: hx(c), Response: hx(g.APlusBCQ(u, c, secret))}
	}
	out := plaintextTallySelectionJSON{ObjectID: id, Message: ctJSON(ct)}
	product := g.OneP()
	for i := range 2 {
		m := g.PowP(ct.pad, b.coeffs[i][0])
		out.Shares = append(out.Shares, shareJSON{ObjectID: id, GuardianID: fmt.Sprint(i + 1), Share: hx(m), Proof: prove(b.coeffs[i][0], m)})
		product = g.MulP(product, m)
	}
	missing := shareJSON{ObjectID: id, GuardianID: "3", RecoveredParts: map[string]compensatedJSON{}}
	ws, _ := lagrange(g, []int{1, 2})
	m3 := g.OneP()
	for i := range 2 {
		p := poly(2, i+1)
		part := g.PowP(ct.pad, p)
		missing.RecoveredParts[fmt.Sprint(i+1)] = compensatedJSON{ObjectID: id, GuardianID: fmt.Sprint(i + 1), MissingGuardianID: "3",
			Share: hx(part), RecoveryKey: hx(g.GPow(p)), Proof: *prove(p, part)}
		m3 = g.MulP(m3, g.PowP(part, ws[i]))
	}
	missing.Share = hx(m3)
	out.Shares = append(out.Shares, missing)
	value, _ := g.DivP(ct.data, g.MulP(product, m3))
	out.Value = hx(value)
	for t := range maxCount + 1 {
		if g.GPow(g.ElementModQFromUint64(uint64(t))).Equal(value) {
			out.Tally = t
		}
	}
	return out
}

func TestTinyRecordVerifies(t *testing.T) {
	r, err := Record(context.Background(), tinyRecord(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if r.Group != "test" || r.CastBallots != 2 || r.SpoiledBallots != 1 || r.DecryptedSpoiled != 1 || r.Selections != 2 ||
		len(r.MissingGuardians) != 1 || r.MissingGuardians[0] != "3" {
		t.Errorf("report %+v: want the test group, 2 cast, 1 spoiled and decrypted, 2 selections, guardian 3 missing", r)
	}
}

func TestCanceledVerificationReturnsTheContextsError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, err := Record(ctx, tinyRecord(t), Options{})
	if !errors.Is(err, context.Canceled) || r != nil {
		t.Errorf("Record with a canceled context: %v, %v; want no report and context.Canceled", r, err)
	}
}
