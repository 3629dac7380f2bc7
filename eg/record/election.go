package record

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/tallyq/tallyq/eg"
)

// GuardianPublicKeys is a guardian's public key K_i, commitments K_{i,j} and their proofs
// as group elements.
type GuardianPublicKeys struct {
	ID            string
	SequenceOrder int
	Key           eg.ElementModP
	Commitments   []eg.ElementModP
	Proofs        []eg.SchnorrProof
}

// PublicKeys converts the record to group elements, checking ranges (not the proofs:
// VerifyCommitments does that).
func (r *GuardianRecord) PublicKeys(g *eg.Group) (*GuardianPublicKeys, error) {
	key, err := r.ElectionPublicKey.P(g)
	if err != nil {
		return nil, fmt.Errorf("guardian %q: election public key: %w", r.GuardianID, err)
	}
	out := &GuardianPublicKeys{ID: r.GuardianID, SequenceOrder: r.SequenceOrder, Key: key}
	for j, c := range r.ElectionCommitments {
		k, err := c.P(g)
		if err != nil {
			return nil, fmt.Errorf("guardian %q: commitment %d: %w", r.GuardianID, j, err)
		}
		out.Commitments = append(out.Commitments, k)
	}
	for j, p := range r.ElectionProofs {
		sp, err := p.Elements(g)
		if err != nil {
			return nil, fmt.Errorf("guardian %q: proof %d: %w", r.GuardianID, j, err)
		}
		out.Proofs = append(out.Proofs, sp)
	}
	if len(out.Commitments) == 0 || !out.Commitments[0].Equal(key) {
		return nil, fmt.Errorf("guardian %q: the first commitment is not the election public key", r.GuardianID)
	}
	return out, nil
}

// Verify checks the guardian's Schnorr proofs and that its key is in the subgroup.
func (k *GuardianPublicKeys) Verify(g *eg.Group) error {
	if err := g.VerifyCommitments(k.Commitments, k.Proofs); err != nil {
		return fmt.Errorf("guardian %q: %w", k.ID, err)
	}
	return nil
}

// Elements converts the proof to group elements, checking ranges.
func (p SchnorrProof) Elements(g *eg.Group) (eg.SchnorrProof, error) {
	c := converter{g: g}
	out := eg.SchnorrProof{PublicKey: c.p("public_key", p.PublicKey), Commitment: c.p("commitment", p.Commitment),
		Challenge: c.q("challenge", p.Challenge), Response: c.q("response", p.Response)}
	return out, c.err
}

// Election is what validating, tallying and decrypting need of an election, prepared
// once from its manifest and context: the description hashes, each style's contests with
// their placeholders, K (with a precomputed table) and Q̄. It is immutable and safe for
// concurrent use.
type Election struct {
	Group        *eg.Group
	Manifest     *Manifest
	Context      *Context
	ManifestHash eg.ElementModQ
	// ExtendedBaseHash is Q̄, which every proof's challenge includes.
	ExtendedBaseHash eg.ElementModQ
	// PublicKey is K, the joint election public key.
	PublicKey *eg.FixedBase

	contests map[string]*contestInfo
	styles   map[string][]*contestInfo
}

// contestInfo is a manifest contest with its hash and its selections (placeholders last).
type contestInfo struct {
	desc       *ContestDescription
	hash       eg.ElementModQ
	selections []selectionInfo
	index      map[string]int // selection id -> index in selections
}

type selectionInfo struct {
	desc        SelectionDescription
	hash        eg.ElementModQ
	placeholder bool
}

// NewElection prepares an election for validation and tallying. It checks the manifest
// (Validate), that the manifest hashes to the context's manifest_hash, that the context's
// base and extended base hashes follow from it, and that K is in the order-q subgroup.
// The context's commitment hash is checked against the guardians by VerifyContext.
func NewElection(g *eg.Group, m *Manifest, c *Context) (*Election, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	e := &Election{Group: g, Manifest: m, Context: c, ManifestHash: m.CryptoHash(g),
		contests: map[string]*contestInfo{}, styles: map[string][]*contestInfo{}}
	if !HexQ(e.ManifestHash).Equal(c.ManifestHash) {
		return nil, fmt.Errorf("the manifest hashes to %s but the context's manifest_hash is %s: the context is for another manifest", e.ManifestHash.Hex(), c.ManifestHash)
	}
	commitmentHash, err := c.CommitmentHash.Q(g)
	if err != nil {
		return nil, fmt.Errorf("context commitment_hash: %w", err)
	}
	base := CryptoBaseHash(g, c.NumberOfGuardians, c.Quorum, e.ManifestHash)
	if !HexQ(base).Equal(c.CryptoBaseHash) {
		return nil, fmt.Errorf("context crypto_base_hash %s is not H(p, q, g, n, k, manifest hash) = %s", c.CryptoBaseHash, base.Hex())
	}
	e.ExtendedBaseHash = ExtendedBaseHash(g, base, commitmentHash)
	if !HexQ(e.ExtendedBaseHash).Equal(c.CryptoExtendedBaseHash) {
		return nil, fmt.Errorf("context crypto_extended_base_hash %s is not H(base hash, commitment hash) = %s", c.CryptoExtendedBaseHash, e.ExtendedBaseHash.Hex())
	}
	k, err := c.ElGamalPublicKey.P(g)
	if err != nil {
		return nil, fmt.Errorf("context elgamal_public_key: %w", err)
	}
	if !g.InSubgroup(k) {
		return nil, errors.New("context elgamal_public_key is not in the order-q subgroup")
	}
	e.PublicKey = g.NewFixedBase(k)
	for i := range m.Contests {
		e.contests[m.Contests[i].ObjectID] = newContestInfo(g, &m.Contests[i])
	}
	for i := range m.BallotStyles {
		for _, d := range m.ContestsFor(&m.BallotStyles[i]) {
			e.styles[m.BallotStyles[i].ObjectID] = append(e.styles[m.BallotStyles[i].ObjectID], e.contests[d.ObjectID])
		}
	}
	return e, nil
}

func newContestInfo(g *eg.Group, d *ContestDescription) *contestInfo {
	ci := &contestInfo{desc: d, hash: d.CryptoHash(g), index: map[string]int{}}
	add := func(s SelectionDescription, placeholder bool) {
		ci.index[s.ObjectID] = len(ci.selections)
		ci.selections = append(ci.selections, selectionInfo{desc: s, hash: s.CryptoHash(g), placeholder: placeholder})
	}
	for _, s := range d.BallotSelections {
		add(s, false)
	}
	for _, s := range d.Placeholders() {
		add(s, true)
	}
	return ci
}

// VerifyContext checks the context against the guardians' public records: their
// Schnorr proofs, n, K = ∏K_i and the commitment hash (of the commitments in sequence
// order, as 1.x publishes the guardians, whatever the order given).
func VerifyContext(g *eg.Group, c *Context, guardians []*GuardianRecord) error {
	guardians = slices.SortedStableFunc(slices.Values(guardians), func(a, b *GuardianRecord) int {
		return cmp.Compare(a.SequenceOrder, b.SequenceOrder)
	})
	if len(guardians) != c.NumberOfGuardians {
		return fmt.Errorf("%d guardian records but the context says %d guardians", len(guardians), c.NumberOfGuardians)
	}
	commitments := make([][]eg.ElementModP, len(guardians))
	keys := make([]eg.ElementModP, len(guardians))
	for i, r := range guardians {
		pub, err := r.PublicKeys(g)
		if err != nil {
			return err
		}
		if err := pub.Verify(g); err != nil {
			return err
		}
		if len(pub.Commitments) != c.Quorum {
			return fmt.Errorf("guardian %q has %d commitments but the quorum is %d", r.GuardianID, len(pub.Commitments), c.Quorum)
		}
		commitments[i], keys[i] = pub.Commitments, pub.Key
	}
	if !HexP(g.JointKey(keys...)).Equal(c.ElGamalPublicKey) {
		return errors.New("context elgamal_public_key is not the product of the guardians' keys")
	}
	if !HexQ(CommitmentHash(g, commitments)).Equal(c.CommitmentHash) {
		return errors.New("context commitment_hash is not the hash of the guardians' commitments")
	}
	return nil
}
