package verify

import (
	"cmp"
	"fmt"
	"io/fs"
	"slices"

	"github.com/tallyq/tallyq/eg"
)

// Ballot states of the 0.95 record (python BallotBoxState).
const (
	stateCast    = 1
	stateSpoiled = 2
)

// checkedBallot is one ballot after its checks: what the record-wide checks (duplicates,
// code chain, spoiled decryptions) and the tally product need of it.
type checkedBallot struct {
	file     string
	id       string
	state    int
	code     eg.ElementModQ
	seed     eg.ElementModQ
	chained  bool             // code and seed decoded, so the ballot takes part in the chain
	contests []checkedContest // the contests whose ciphertexts decoded
	problems []Problem
}

// checkedContest is a contest's selection ciphertexts, indexed like info.selections.
type checkedContest struct {
	info *contestInfo
	cts  []ciphertext
	ok   []bool // whether cts[i] decoded
}

// ballotChecker checks one ballot, collecting its problems.
type ballotChecker struct {
	e   *election
	b   *ballotJSON
	out *checkedBallot
}

func (c *ballotChecker) fail(check Check, contest, selection, format string, args ...any) {
	where := "ballot " + c.b.ObjectID
	if contest != "" {
		where += ", contest " + contest
	}
	if selection != "" {
		where += ", selection " + selection
	}
	c.out.problems = append(c.out.problems, Problem{Check: check, File: c.out.file, Where: where, Detail: fmt.Sprintf(format, args...)})
}

// readBallot reads and checks one submitted ballot file.
func (e *election) readBallot(fsys fs.FS, file string) *checkedBallot {
	b, err := readBallotFile(fsys, file)
	if err != nil {
		return &checkedBallot{file: file, problems: []Problem{{Check: CheckRead, File: file, Detail: err.Error()}}}
	}
	return e.checkBallot(file, b)
}

// checkBallot makes every check of one ballot: no nonces, manifest hash, state, style and
// contests, each contest's selections and placeholders against the manifest, every
// ciphertext in the subgroup, the crypto hashes, the tracking code, each selection's
// disjunctive proof, each contest's accumulation and constant proof.
func (e *election) checkBallot(file string, b *ballotJSON) *checkedBallot {
	c := &ballotChecker{e: e, b: b, out: &checkedBallot{file: file, id: b.ObjectID, state: b.State}}
	c.checkNonces()
	d := decoder{g: e.g}
	if mh := d.q("manifest_hash", b.ManifestHash); d.err == nil && !mh.Equal(e.manifestHash) {
		c.fail(CheckBallot, "", "", "manifest_hash %s is not the manifest's hash %s", mh.Hex(), e.manifestHash.Hex())
	}
	if b.State != stateCast && b.State != stateSpoiled {
		c.fail(CheckBallot, "", "", "state %d is neither CAST (1) nor SPOILED (2)", b.State)
	}
	style, known := e.manifest.styles[b.StyleID]
	if !known {
		c.fail(CheckBallot, "", "", "style %q is not in the manifest", b.StyleID)
	} else {
		c.checkContestSet(style)
	}
	contests := slices.Clone(b.Contests)
	slices.SortStableFunc(contests, func(x, y ballotContestJSON) int { return cmp.Compare(x.SequenceOrder, y.SequenceOrder) })
	hashes := make([]any, 0, len(contests))
	for i := range contests {
		h, ok := c.checkContest(&contests[i])
		if !ok {
			// The ballot's hash cannot be recomputed; the contest's problem says why.
			hashes = nil
		} else if hashes != nil {
			hashes = append(hashes, h)
		}
	}
	c.checkBallotHash(&d, hashes)
	return c.out
}

func (c *ballotChecker) checkNonces() {
	const secret = "carries its encryption nonce, which reveals the vote"
	if !isNull(c.b.Nonce) {
		c.fail(CheckBallot, "", "", "the ballot %s", secret)
	}
	for _, ct := range c.b.Contests {
		if !isNull(ct.Nonce) {
			c.fail(CheckBallot, ct.ObjectID, "", "the contest %s", secret)
		}
		for _, s := range ct.BallotSelections {
			if !isNull(s.Nonce) {
				c.fail(CheckBallot, ct.ObjectID, s.ObjectID, "the selection %s", secret)
			}
		}
	}
}

// checkContestSet checks the ballot holds exactly its style's contests.
func (c *ballotChecker) checkContestSet(style []*contestInfo) {
	want := map[string]bool{}
	for _, ci := range style {
		want[ci.id] = true
	}
	seen := map[string]bool{}
	for _, ct := range c.b.Contests {
		switch {
		case !want[ct.ObjectID]:
			c.fail(CheckBallot, ct.ObjectID, "", "the contest is not on ballot style %q", c.b.StyleID)
		case seen[ct.ObjectID]:
			c.fail(CheckBallot, ct.ObjectID, "", "the contest appears twice")
		}
		seen[ct.ObjectID] = true
	}
	for _, ci := range style {
		if !seen[ci.id] {
			c.fail(CheckBallot, ci.id, "", "ballot style %q's contest is missing", c.b.StyleID)
		}
	}
}

// checkContest checks one contest and returns its crypto hash and whether it could be
// computed.
func (c *ballotChecker) checkContest(ct *ballotContestJSON) (eg.ElementModQ, bool) {
	e, g := c.e, c.e.g
	info := e.manifest.byID[ct.ObjectID]
	if info == nil {
		return eg.ElementModQ{}, false // reported by checkContestSet or for the style
	}
	d := decoder{g: g}
	if dh := d.q("description_hash", ct.DescriptionHash); d.err == nil && !dh.Equal(info.hash) {
		c.fail(CheckBallot, ct.ObjectID, "", "description_hash %s is not the manifest contest's hash %s", dh.Hex(), info.hash.Hex())
	}
	if !c.checkSelectionSet(ct, info) {
		return eg.ElementModQ{}, false
	}
	cc := checkedContest{info: info, cts: make([]ciphertext, len(info.selections)), ok: make([]bool, len(info.selections))}
	sels := slices.Clone(ct.BallotSelections)
	slices.SortStableFunc(sels, func(x, y ballotSelectionJSON) int { return cmp.Compare(x.SequenceOrder, y.SequenceOrder) })
	items := []any{ct.ObjectID, info.hash}
	allOK := true
	acc := ciphertext{pad: g.OneP(), data: g.OneP()}
	for i := range sels {
		s := &sels[i]
		k := info.index[s.ObjectID]
		ctxt, h, ok := c.checkSelection(ct.ObjectID, s, info.selections[k])
		if !ok {
			allOK = false
			continue
		}
		cc.cts[k], cc.ok[k] = ctxt, true
		acc = acc.mul(g, ctxt)
		items = append(items, h)
	}
	c.out.contests = append(c.out.contests, cc)
	if !allOK {
		return eg.ElementModQ{}, false
	}
	hash := g.Hash(items...)
	if ch := d.q("crypto_hash", ct.CryptoHash); d.err == nil && !ch.Equal(hash) {
		c.fail(CheckCryptoHash, ct.ObjectID, "", "contest crypto_hash %s is not H(object_id, description_hash, selection hashes) = %s", ch.Hex(), hash.Hex())
	}
	if d.err != nil {
		c.fail(CheckRead, ct.ObjectID, "", "%v", d.err)
		return hash, true
	}
	c.checkContestProof(ct, info, acc)
	return hash, true
}

// checkSelectionSet checks the contest holds the manifest's selections and exactly its
// placeholders, each once.
func (c *ballotChecker) checkSelectionSet(ct *ballotContestJSON, info *contestInfo) bool {
	if len(ct.BallotSelections) != len(info.selections) {
		c.fail(CheckBallot, ct.ObjectID, "", "%d selections; the manifest has %d and %d placeholders",
			len(ct.BallotSelections), len(info.realSelections()), info.limit)
		return false
	}
	seen := map[string]bool{}
	for _, s := range ct.BallotSelections {
		k, known := info.index[s.ObjectID]
		switch {
		case !known:
			c.fail(CheckBallot, ct.ObjectID, s.ObjectID, "the selection is neither in the manifest's contest nor one of its placeholders")
			return false
		case seen[s.ObjectID]:
			c.fail(CheckBallot, ct.ObjectID, s.ObjectID, "the selection appears twice")
			return false
		case s.IsPlaceholderSelection != info.selections[k].placeholder:
			c.fail(CheckBallot, ct.ObjectID, s.ObjectID, "is_placeholder_selection is %v, want %v", s.IsPlaceholderSelection, info.selections[k].placeholder)
		}
		seen[s.ObjectID] = true
	}
	return true
}

// checkSelection checks one selection and returns its ciphertext, its crypto hash and
// whether both could be read.
func (c *ballotChecker) checkSelection(contest string, s *ballotSelectionJSON, info selectionInfo) (ciphertext, eg.ElementModQ, bool) {
	e, g := c.e, c.e.g
	d := decoder{g: g}
	ct := d.ciphertext("ciphertext", s.Ciphertext)
	if d.err != nil {
		c.fail(CheckRead, contest, s.ObjectID, "%v", d.err)
		return ciphertext{}, eg.ElementModQ{}, false
	}
	if dh := d.q("description_hash", s.DescriptionHash); d.err == nil && !dh.Equal(info.hash) {
		c.fail(CheckBallot, contest, s.ObjectID, "description_hash %s is not the manifest selection's hash %s", dh.Hex(), info.hash.Hex())
	}
	hash := g.Hash(s.ObjectID, info.hash, g.Hash(ct.pad, ct.data))
	if ch := d.q("crypto_hash", s.CryptoHash); d.err == nil && !ch.Equal(hash) {
		c.fail(CheckCryptoHash, contest, s.ObjectID, "selection crypto_hash %s is not H(object_id, description_hash, H(α, β)) = %s", ch.Hex(), hash.Hex())
	}
	members := true
	for _, x := range []struct {
		name string
		v    eg.ElementModP
	}{{"α (pad)", ct.pad}, {"β (data)", ct.data}} {
		if !g.InSubgroup(x.v) {
			c.fail(CheckSubgroup, contest, s.ObjectID, "ciphertext %s is not in the order-q subgroup", x.name)
			members = false
		}
	}
	switch p := s.Proof; {
	case p == nil:
		c.fail(CheckSelectionProof, contest, s.ObjectID, "the selection has no proof")
	case members:
		pd := decoder{g: g}
		proof := disjunctiveProof{
			a0: pd.p("proof_zero_pad", p.ProofZeroPad), b0: pd.p("proof_zero_data", p.ProofZeroData),
			a1: pd.p("proof_one_pad", p.ProofOnePad), b1: pd.p("proof_one_data", p.ProofOneData),
			c0: pd.q("proof_zero_challenge", p.ProofZeroChallenge), c1: pd.q("proof_one_challenge", p.ProofOneChallenge),
			c: pd.q("challenge", p.Challenge), v0: pd.q("proof_zero_response", p.ProofZeroResponse), v1: pd.q("proof_one_response", p.ProofOneResponse),
		}
		if pd.err == nil {
			pd.err = e.checkDisjunctive(ct, proof)
		}
		if pd.err != nil {
			c.fail(CheckSelectionProof, contest, s.ObjectID, "%v", pd.err)
		}
	}
	return ct, hash, true
}

// checkContestProof checks the accumulation is the product of the selections and its
// constant proof holds for the manifest's limit.
func (c *ballotChecker) checkContestProof(ct *ballotContestJSON, info *contestInfo, acc ciphertext) {
	d := decoder{g: c.e.g}
	recorded := d.ciphertext("ciphertext_accumulation", ct.CiphertextAccumulation)
	if d.err == nil && !recorded.equal(acc) {
		c.fail(CheckAccumulation, ct.ObjectID, "", "ciphertext_accumulation is not the product of the contest's %d selections", len(info.selections))
	}
	p := ct.Proof
	if p == nil {
		c.fail(CheckContestProof, ct.ObjectID, "", "the contest has no proof")
		return
	}
	proof := constantProof{a: d.p("proof pad", p.Pad), b: d.p("proof data", p.Data),
		c: d.q("proof challenge", p.Challenge), v: d.q("proof response", p.Response), constant: p.Constant}
	if d.err == nil {
		d.err = c.e.checkConstant(acc, proof, info.limit)
	}
	if d.err != nil {
		c.fail(CheckContestProof, ct.ObjectID, "", "%v", d.err)
	}
}

// checkBallotHash checks the ballot's crypto hash (when every contest's could be
// recomputed) and its tracking code.
func (c *ballotChecker) checkBallotHash(d *decoder, contestHashes []any) {
	g, b := c.e.g, c.b
	recorded := d.q("crypto_hash", b.CryptoHash)
	seed := d.q("code_seed", b.CodeSeed)
	code := d.q("code", b.Code)
	if d.err != nil {
		c.fail(CheckRead, "", "", "%v", d.err)
		return
	}
	if contestHashes != nil {
		if want := g.Hash(append([]any{b.ObjectID, c.e.manifestHash}, contestHashes...)...); !recorded.Equal(want) {
			c.fail(CheckCryptoHash, "", "", "ballot crypto_hash %s is not H(object_id, manifest hash, contest hashes) = %s", recorded.Hex(), want.Hex())
		}
	}
	if want := g.Hash(seed, b.Timestamp, recorded); !code.Equal(want) {
		c.fail(CheckTrackingCode, "", "", "code %s is not H(code_seed, timestamp, crypto_hash) = %s", code.Hex(), want.Hex())
	}
	c.out.code, c.out.seed, c.out.chained = code, seed, true
}
