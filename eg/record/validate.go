package record

import (
	"errors"
	"fmt"

	"github.com/tallyq/tallyq/eg"
)

// Check names one check of ballot validation.
type Check string

// The checks ValidateBallot makes. It makes the cheap ones first (everything but the
// proofs' equations), so a ballot failing several reports the first of those.
const (
	CheckNonce           Check = "no nonce"             // the ballot, a contest or a selection carries a nonce
	CheckManifestHash    Check = "manifest hash"        // the ballot's manifest_hash is not the manifest's
	CheckStyle           Check = "ballot style"         // the ballot's style is not in the manifest
	CheckContests        Check = "contests of style"    // the contests are not exactly the style's
	CheckDescriptionHash Check = "description hash"     // a contest's or selection's description_hash is not the manifest's
	CheckSelections      Check = "selections"           // a contest's selections are not the manifest's plus its placeholders
	CheckSubgroup        Check = "subgroup membership"  // an α or β is not in the order-q subgroup (or not below p)
	CheckCryptoHash      Check = "crypto hash"          // a selection's, contest's or ballot's crypto_hash does not recompute
	CheckCode            Check = "ballot code"          // code is not H(code_seed, timestamp, crypto_hash)
	CheckChallenge       Check = "challenge"            // a proof's challenge is not recomputed from Q̄ and its commitments
	CheckSelectionProof  Check = "selection proof"      // a selection's 0/1 proof does not verify
	CheckAccumulation    Check = "contest accumulation" // the contest's ciphertext_accumulation is not the product of its selections
	CheckContestProof    Check = "contest proof"        // the contest's constant proof does not verify for the manifest's limit
)

// BallotError is why a ballot is invalid: which ballot, contest and selection (empty when
// the check is about the whole ballot or contest), and which check failed.
type BallotError struct {
	BallotID    string
	ContestID   string
	SelectionID string
	Check       Check
	Err         error
}

// Error names the ballot, contest and selection, the check and why it failed.
func (e *BallotError) Error() string {
	where := "ballot " + e.BallotID
	if e.ContestID != "" {
		where += ", contest " + e.ContestID
	}
	if e.SelectionID != "" {
		where += ", selection " + e.SelectionID
	}
	return fmt.Sprintf("%s: %s check failed: %v", where, e.Check, e.Err)
}

// Unwrap returns the underlying error, such as an *eg.ProofError.
func (e *BallotError) Unwrap() error { return e.Err }

// fail builds a BallotError.
func fail(b *SubmittedBallot, contest, selection string, check Check, format string, args ...any) *BallotError {
	return &BallotError{BallotID: b.ObjectID, ContestID: contest, SelectionID: selection, Check: check, Err: fmt.Errorf(format, args...)}
}

// ValidateBallot checks one submitted ballot against the election and returns a
// *BallotError naming the first failed check, or nil. It checks: no nonce anywhere; the
// manifest hash; the style exists and the contests are exactly its contests; each
// contest's and selection's description hash; each contest holds the manifest's
// selections plus exactly Limit() placeholders; every α and β in the order-q subgroup;
// the selection, contest and ballot crypto hashes and the code; every challenge
// recomputed with Q̄; each selection's 0/1 proof; the contest's accumulation is the
// product of its selections and its constant proof holds for the manifest's limit (not
// the constant the ballot claims). It does not look at the ballot's state.
func (e *Election) ValidateBallot(b *SubmittedBallot) error {
	pb, err := e.prepareBallot(b)
	if err != nil {
		return err
	}
	for _, s := range pb.selections {
		if err := s.proof.Verify(e.Group, s.ct, e.PublicKey, e.ExtendedBaseHash); err != nil {
			return e.selectionFailure(b, s, err)
		}
	}
	return pb.contestProofs(e)
}

// CheckStructure makes every check of ValidateBallot except the proofs' equations and
// subgroup membership: no nonce, manifest hash, style, contests and selections with
// their description hashes, every value in range, the crypto hashes, code and
// challenges. It is cheap (hashes, no exponentiation), so it suits checking ballots as
// they arrive; ValidateBallot makes the rest.
func (e *Election) CheckStructure(b *SubmittedBallot) error {
	_, err := e.prepareBallot(b)
	return err
}

// selectionFailure names why a selection's proof failed. The proof's verification checks
// that α and β are in the order-q subgroup (the batched one for all proofs at once), so
// the subgroup is tested separately only to name a failure.
func (e *Election) selectionFailure(b *SubmittedBallot, s preparedSelection, err error) *BallotError {
	switch {
	case !e.Group.InSubgroup(s.ct.Pad):
		return fail(b, s.contest, s.id, CheckSubgroup, "α (pad) is not in the order-q subgroup")
	case !e.Group.InSubgroup(s.ct.Data):
		return fail(b, s.contest, s.id, CheckSubgroup, "β (data) is not in the order-q subgroup")
	}
	return fail(b, s.contest, s.id, CheckSelectionProof, "%w", err)
}

// preparedBallot is a ballot that passed every check but the proofs' equations, with its
// values as group elements.
type preparedBallot struct {
	ballot     *SubmittedBallot
	selections []preparedSelection
	contests   []preparedContest
}

type preparedSelection struct {
	contest, id string
	ct          eg.Ciphertext
	proof       eg.DisjunctiveProof
}

type preparedContest struct {
	id    string
	limit int
	acc   eg.Ciphertext
	proof eg.ConstantProof
}

// contestProofs verifies the contests' constant proofs.
func (pb *preparedBallot) contestProofs(e *Election) error {
	for _, c := range pb.contests {
		if err := c.proof.Verify(e.Group, c.acc, c.limit, e.PublicKey, e.ExtendedBaseHash); err != nil {
			return contestFailure(pb.ballot, c, err)
		}
	}
	return nil
}

// contestFailure names why a contest's constant proof failed.
func contestFailure(b *SubmittedBallot, c preparedContest, err error) *BallotError {
	return fail(b, c.id, "", CheckContestProof, "%w", err)
}

// prepareBallot makes every check except the proofs' equations.
func (e *Election) prepareBallot(b *SubmittedBallot) (*preparedBallot, error) {
	if err := checkNonces(b); err != nil {
		return nil, err
	}
	if !b.ManifestHash.Equal(HexQ(e.ManifestHash)) {
		return nil, fail(b, "", "", CheckManifestHash, "ballot has %s, the manifest hashes to %s", b.ManifestHash, e.ManifestHash.Hex())
	}
	if _, known := e.Manifest.Style(b.StyleID); !known {
		return nil, fail(b, "", "", CheckStyle, "style %q is not in the manifest", b.StyleID)
	}
	if err := checkContestSet(b, e.styles[b.StyleID]); err != nil {
		return nil, err
	}
	pb := &preparedBallot{ballot: b}
	contestHashes := make([]sequenced, 0, len(b.Contests))
	for i := range b.Contests {
		h, err := e.prepareContest(pb, &b.Contests[i])
		if err != nil {
			return nil, err
		}
		contestHashes = append(contestHashes, sequenced{b.Contests[i].SequenceOrder, h})
	}
	if got := ballotHash(e.Group, b.ObjectID, e.ManifestHash, inSequence(contestHashes)); !b.CryptoHash.Equal(HexQ(got)) {
		return nil, fail(b, "", "", CheckCryptoHash, "ballot crypto_hash is %s, recomputed %s", b.CryptoHash, got.Hex())
	}
	seed, err1 := b.CodeSeed.Q(e.Group)
	bh, err2 := b.CryptoHash.Q(e.Group)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fail(b, "", "", CheckCode, "%w", err)
	}
	if code := BallotCode(e.Group, seed, b.Timestamp, bh); !b.Code.Equal(HexQ(code)) {
		return nil, fail(b, "", "", CheckCode, "code is %s, H(code_seed, timestamp, crypto_hash) is %s", b.Code, code.Hex())
	}
	return pb, nil
}

func checkNonces(b *SubmittedBallot) error {
	if b.Nonce != nil {
		return fail(b, "", "", CheckNonce, "the ballot carries its nonce")
	}
	for _, c := range b.Contests {
		if c.Nonce != nil {
			return fail(b, c.ObjectID, "", CheckNonce, "the contest carries its nonce")
		}
		for _, s := range c.BallotSelections {
			if s.Nonce != nil {
				return fail(b, c.ObjectID, s.ObjectID, CheckNonce, "the selection carries its nonce")
			}
		}
	}
	return nil
}

func checkContestSet(b *SubmittedBallot, style []*contestInfo) error {
	want := make(map[string]bool, len(style))
	for _, c := range style {
		want[c.desc.ObjectID] = true
	}
	seen := make(map[string]bool, len(b.Contests))
	for _, c := range b.Contests {
		if !want[c.ObjectID] {
			return fail(b, c.ObjectID, "", CheckContests, "contest is not on style %q", b.StyleID)
		}
		if seen[c.ObjectID] {
			return fail(b, c.ObjectID, "", CheckContests, "contest appears twice")
		}
		seen[c.ObjectID] = true
	}
	for _, c := range style {
		if !seen[c.desc.ObjectID] {
			return fail(b, c.desc.ObjectID, "", CheckContests, "style %q's contest is missing", b.StyleID)
		}
	}
	return nil
}

// prepareContest checks one contest up to its proofs' equations and returns its crypto hash.
func (e *Election) prepareContest(pb *preparedBallot, c *BallotContest) (eg.ElementModQ, error) {
	g, b := e.Group, pb.ballot
	info := e.contests[c.ObjectID]
	if !c.DescriptionHash.Equal(HexQ(info.hash)) {
		return eg.ElementModQ{}, fail(b, c.ObjectID, "", CheckDescriptionHash, "contest description_hash is %s, the manifest's contest hashes to %s", c.DescriptionHash, info.hash.Hex())
	}
	if err := checkSelectionSet(b, c, info); err != nil {
		return eg.ElementModQ{}, err
	}
	hashes := make([]sequenced, 0, len(c.BallotSelections))
	cts := make([]eg.Ciphertext, 0, len(c.BallotSelections))
	for i := range c.BallotSelections {
		s := &c.BallotSelections[i]
		ps, h, err := e.prepareSelection(b, c.ObjectID, s, info)
		if err != nil {
			return eg.ElementModQ{}, err
		}
		pb.selections = append(pb.selections, ps)
		hashes = append(hashes, sequenced{s.SequenceOrder, h})
		cts = append(cts, ps.ct)
	}
	// The accumulation is in the subgroup when it is the product of selections that are.
	acc, err := c.CiphertextAccumulation.Elements(g)
	if err != nil {
		return eg.ElementModQ{}, fail(b, c.ObjectID, "", CheckSubgroup, "ciphertext_accumulation: %w", err)
	}
	if !g.AddCiphertexts(cts...).Equal(acc) {
		return eg.ElementModQ{}, fail(b, c.ObjectID, "", CheckAccumulation, "ciphertext_accumulation is not the product of the %d selections", len(cts))
	}
	ch := contestHash(g, c.ObjectID, info.hash, inSequence(hashes))
	if !c.CryptoHash.Equal(HexQ(ch)) {
		return eg.ElementModQ{}, fail(b, c.ObjectID, "", CheckCryptoHash, "contest crypto_hash is %s, recomputed %s", c.CryptoHash, ch.Hex())
	}
	if c.Proof == nil {
		return eg.ElementModQ{}, fail(b, c.ObjectID, "", CheckContestProof, "the contest has no proof")
	}
	proof, err := c.Proof.Elements(g)
	if err != nil {
		return eg.ElementModQ{}, fail(b, c.ObjectID, "", CheckContestProof, "%w", err)
	}
	if got := g.Hash(e.ExtendedBaseHash, acc.Pad, acc.Data, proof.Pad, proof.Data); !got.Equal(proof.Challenge) {
		return eg.ElementModQ{}, fail(b, c.ObjectID, "", CheckChallenge, "contest proof challenge is %s, H(Q̄, A, B, a, b) is %s", proof.Challenge.Hex(), got.Hex())
	}
	pb.contests = append(pb.contests, preparedContest{id: c.ObjectID, limit: info.desc.Limit(), acc: acc, proof: proof})
	return ch, nil
}

func checkSelectionSet(b *SubmittedBallot, c *BallotContest, info *contestInfo) error {
	if len(c.BallotSelections) != len(info.selections) {
		return fail(b, c.ObjectID, "", CheckSelections, "%d selections, want the manifest's %d plus %d placeholders",
			len(c.BallotSelections), len(info.desc.BallotSelections), info.desc.Limit())
	}
	seen := make(map[string]bool, len(c.BallotSelections))
	for _, s := range c.BallotSelections {
		i, ok := info.index[s.ObjectID]
		if !ok || seen[s.ObjectID] {
			return fail(b, c.ObjectID, s.ObjectID, CheckSelections, "selection is not in the manifest's contest or its placeholders, or appears twice")
		}
		seen[s.ObjectID] = true
		if s.IsPlaceholderSelection != info.selections[i].placeholder {
			return fail(b, c.ObjectID, s.ObjectID, CheckSelections, "is_placeholder_selection is %v, want %v", s.IsPlaceholderSelection, info.selections[i].placeholder)
		}
	}
	return nil
}

// prepareSelection checks one selection up to its proof's equations and returns its crypto hash.
func (e *Election) prepareSelection(b *SubmittedBallot, contest string, s *BallotSelection, info *contestInfo) (preparedSelection, eg.ElementModQ, error) {
	g := e.Group
	want := info.selections[info.index[s.ObjectID]].hash
	ps := preparedSelection{contest: contest, id: s.ObjectID}
	if !s.DescriptionHash.Equal(HexQ(want)) {
		return ps, eg.ElementModQ{}, fail(b, contest, s.ObjectID, CheckDescriptionHash, "selection description_hash is %s, the manifest's selection hashes to %s", s.DescriptionHash, want.Hex())
	}
	ct, err := s.Ciphertext.Elements(g)
	if err != nil {
		return ps, eg.ElementModQ{}, fail(b, contest, s.ObjectID, CheckSubgroup, "%w", err)
	}
	h := selectionHash(g, s.ObjectID, want, ct)
	if !s.CryptoHash.Equal(HexQ(h)) {
		return ps, eg.ElementModQ{}, fail(b, contest, s.ObjectID, CheckCryptoHash, "selection crypto_hash is %s, recomputed %s", s.CryptoHash, h.Hex())
	}
	if s.Proof == nil {
		return ps, eg.ElementModQ{}, fail(b, contest, s.ObjectID, CheckSelectionProof, "the selection has no proof")
	}
	proof, err := s.Proof.Elements(g)
	if err != nil {
		return ps, eg.ElementModQ{}, fail(b, contest, s.ObjectID, CheckSelectionProof, "%w", err)
	}
	c := g.Hash(e.ExtendedBaseHash, ct.Pad, ct.Data, proof.Proof0Pad, proof.Proof0Data, proof.Proof1Pad, proof.Proof1Data)
	if !c.Equal(proof.Challenge) {
		return ps, eg.ElementModQ{}, fail(b, contest, s.ObjectID, CheckChallenge, "selection proof challenge is %s, H(Q̄, α, β, a0, b0, a1, b1) is %s", proof.Challenge.Hex(), c.Hex())
	}
	if !g.AddQ(proof.Proof0Challenge, proof.Proof1Challenge).Equal(c) {
		return ps, eg.ElementModQ{}, fail(b, contest, s.ObjectID, CheckChallenge, "selection proof challenge is not proof_zero_challenge + proof_one_challenge")
	}
	ps.ct, ps.proof = ct, proof
	return ps, h, nil
}
