package verify

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/tallyq/tallyq/eg"
)

// File and folder names of the 0.95 layout.
const (
	constantsFile      = "constants.json"
	contextFile        = "context.json"
	manifestFile       = "manifest.json"
	encryptedTallyFile = "encrypted_tally.json"
	tallyFile          = "tally.json"
	coefficientsFile   = "coefficients.json"
	guardiansDir       = "guardians"
	devicesDir         = "encryption_devices"
	submittedDir       = "submitted_ballots"
	spoiledDir         = "spoiled_ballots"
	// InvalidBallotsDir is the folder of tallyq's exports that holds the ballots the
	// tally rejected; they are not part of the tally product.
	InvalidBallotsDir = "invalid_ballots"
)

// election is what every later check needs, prepared from constants, manifest, context
// and guardians. The context's recorded K and Q̄ are used even when they do not
// recompute (that is reported), so that the ballots are still checked against the keys
// they claim.
type election struct {
	g        *eg.Group
	manifest *manifestIndex
	// manifestHash is the manifest's hash as recomputed.
	manifestHash eg.ElementModQ
	qbar         eg.ElementModQ
	key          *eg.FixedBase // K
	n, quorum    int
	guardians    []*guardian // by sequence order
	byID         map[string]*guardian
}

// guardian is a guardian's public record as elements.
type guardian struct {
	id          string
	x           int // sequence order, the guardian's x coordinate
	key         *eg.FixedBase
	commitments []eg.ElementModP
}

// readJSON decodes one file of the record, reporting a missing or malformed file.
func readJSON(fsys fs.FS, name string, v any, ps *problems) bool {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		ps.addf(CheckRead, name, "", "%v", err)
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		ps.addf(CheckRead, name, "", "not a 0.95 record document: %v", err)
		return false
	}
	return true
}

// jsonFiles lists the .json files of a folder of the record, sorted; a missing folder
// has none.
func jsonFiles(fsys fs.FS, dir string) ([]string, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".json") {
			out = append(out, path.Join(dir, e.Name()))
		}
	}
	return out, nil
}

// chooseGroup returns the group constants.json names: want when given, else the
// standard or the test group.
func chooseGroup(fsys fs.FS, want *eg.Group, ps *problems) *eg.Group {
	var c constantsJSON
	if !readJSON(fsys, constantsFile, &c, ps) {
		return nil
	}
	if c.LargePrime == nil || c.SmallPrime == nil || c.Cofactor == nil || c.Generator == nil {
		ps.addf(CheckConstants, constantsFile, "", "large_prime, small_prime, cofactor and generator are all required")
		return nil
	}
	g := want
	if g == nil {
		// Making a group costs an exponentiation mod p, so only the one whose size the
		// record names is made.
		g = eg.TestGroup()
		if c.LargePrime.BitLen() > g.P().BitLen() {
			g = eg.Standard()
		}
	}
	if c.LargePrime.Cmp(g.P()) != 0 || c.SmallPrime.Cmp(g.Q()) != 0 || c.Cofactor.Cmp(g.R()) != 0 || c.Generator.Cmp(g.G()) != 0 {
		ps.addf(CheckConstants, constantsFile, "", "large_prime, small_prime, cofactor and generator are not those of the %s group", g.Name())
		return nil
	}
	return g
}

// loadElection reads and checks constants, manifest, context and guardians. It returns
// nil when what follows cannot be checked (a file unreadable, no group).
func loadElection(fsys fs.FS, want *eg.Group, ps *problems) *election {
	g := chooseGroup(fsys, want, ps)
	if g == nil {
		return nil
	}
	var m manifestJSON
	var c contextJSON
	okM := readJSON(fsys, manifestFile, &m, ps)
	okC := readJSON(fsys, contextFile, &c, ps)
	if !okM || !okC {
		return nil
	}
	idx, err := m.index(g)
	if err != nil {
		ps.addf(CheckManifest, manifestFile, "", "%v", err)
		return nil
	}
	e := &election{g: g, manifest: idx, n: c.NumberOfGuardians, quorum: c.Quorum, byID: map[string]*guardian{}}
	if e.manifestHash, err = m.manifestHash(g); err != nil {
		ps.addf(CheckManifest, manifestFile, "", "%v", err)
		return nil
	}
	if !e.readContext(c, ps) || !e.readGuardians(fsys, ps) {
		return nil
	}
	e.checkContext(c, ps)
	return e
}

// readContext takes K and Q̄ from the context and checks its shape.
func (e *election) readContext(c contextJSON, ps *problems) bool {
	d := decoder{g: e.g}
	key := d.p("elgamal_public_key", c.ElGamalPublicKey)
	e.qbar = d.q("crypto_extended_base_hash", c.CryptoExtendedBaseHash)
	if d.err != nil {
		ps.addf(CheckRead, contextFile, "", "%v", d.err)
		return false
	}
	if c.Quorum < 1 || c.Quorum > c.NumberOfGuardians {
		ps.addf(CheckGuardian, contextFile, "", "quorum %d of %d guardians; want 1 ≤ quorum ≤ guardians", c.Quorum, c.NumberOfGuardians)
		return false
	}
	if !e.g.InSubgroup(key) {
		ps.addf(CheckSubgroup, contextFile, "elgamal_public_key", "the joint public key is not in the order-q subgroup")
	}
	// No Precompute: the table pays off only for large records, and FixedBase builds
	// one by itself after a few dozen uses.
	e.key = e.g.NewFixedBase(key)
	return true
}

// checkContext recomputes the context's hashes and joint key.
func (e *election) checkContext(c contextJSON, ps *problems) {
	g := e.g
	d := decoder{g: g}
	manifestHash := d.q("manifest_hash", c.ManifestHash)
	commitmentHash := d.q("commitment_hash", c.CommitmentHash)
	baseHash := d.q("crypto_base_hash", c.CryptoBaseHash)
	if d.err != nil {
		ps.addf(CheckRead, contextFile, "", "%v", d.err)
		return
	}
	if !manifestHash.Equal(e.manifestHash) {
		ps.addf(CheckManifestHash, contextFile, "manifest_hash", "the context has %s, the manifest hashes to %s", manifestHash.Hex(), e.manifestHash.Hex())
	}
	var all []eg.ElementModP
	joint := g.OneP()
	for _, gd := range e.guardians {
		all = append(all, gd.commitments...)
		joint = g.MulP(joint, gd.key.Base())
	}
	if want := g.Hash(all); !commitmentHash.Equal(want) {
		ps.addf(CheckCommitmentHash, contextFile, "commitment_hash", "the context has %s, H(guardians' commitments) is %s", commitmentHash.Hex(), want.Hex())
	}
	if !joint.Equal(e.key.Base()) {
		ps.addf(CheckJointKey, contextFile, "elgamal_public_key", "the context's key is not the product of the %d guardians' election public keys", len(e.guardians))
	}
	base := g.Hash(pyHex(g.P().Text(16)), pyHex(g.Q().Text(16)), pyHex(g.G().Text(16)), e.n, e.quorum, e.manifestHash)
	if !baseHash.Equal(base) {
		ps.addf(CheckBaseHash, contextFile, "crypto_base_hash", "the context has %s, H(p, q, g, n, k, manifest hash) is %s", baseHash.Hex(), base.Hex())
	}
	if want := g.Hash(baseHash, commitmentHash); !e.qbar.Equal(want) {
		ps.addf(CheckExtendedBaseHash, contextFile, "crypto_extended_base_hash", "the context has %s, H(crypto_base_hash, commitment_hash) is %s", e.qbar.Hex(), want.Hex())
	}
}

// pyHex writes hex digits as python 1.x's hash does: upper case, even length.
func pyHex(digits string) string {
	digits = strings.ToUpper(digits)
	if len(digits)%2 == 1 {
		return "0" + digits
	}
	return digits
}

// readGuardians reads guardians/ and checks each guardian's record and key proofs.
func (e *election) readGuardians(fsys fs.FS, ps *problems) bool {
	files, err := jsonFiles(fsys, guardiansDir)
	if err != nil {
		ps.addf(CheckRead, guardiansDir, "", "%v", err)
		return false
	}
	if len(files) != e.n {
		ps.addf(CheckGuardian, guardiansDir, "", "%d guardian records; the context says %d guardians", len(files), e.n)
		return false
	}
	xs := map[int]bool{}
	for _, f := range files {
		var r guardianJSON
		if !readJSON(fsys, f, &r, ps) {
			return false
		}
		gd, ok := e.readGuardian(f, r, ps)
		if !ok {
			return false
		}
		if e.byID[gd.id] != nil || xs[gd.x] {
			ps.addf(CheckGuardian, f, "guardian "+gd.id, "guardian id or sequence order %d appears twice", gd.x)
			return false
		}
		xs[gd.x] = true
		e.byID[gd.id] = gd
		e.guardians = append(e.guardians, gd)
	}
	slices.SortFunc(e.guardians, func(a, b *guardian) int { return cmp.Compare(a.x, b.x) })
	return true
}

// readGuardian converts one guardian record and checks its commitments' proofs. A
// guardian whose commitments are malformed stops the verification (every share
// depends on them); a failed proof is reported and the checks go on.
func (e *election) readGuardian(file string, r guardianJSON, ps *problems) (*guardian, bool) {
	where := "guardian " + r.GuardianID
	if r.SequenceOrder < 1 || r.SequenceOrder > e.n {
		ps.addf(CheckGuardian, file, where, "sequence order %d is not in 1..%d", r.SequenceOrder, e.n)
		return nil, false
	}
	if len(r.ElectionCommitments) != e.quorum || len(r.ElectionProofs) != e.quorum {
		ps.addf(CheckGuardian, file, where, "%d commitments and %d proofs; want quorum %d of each", len(r.ElectionCommitments), len(r.ElectionProofs), e.quorum)
		return nil, false
	}
	d := decoder{g: e.g}
	gd := &guardian{id: r.GuardianID, x: r.SequenceOrder, key: e.g.NewFixedBase(d.p("election_public_key", r.ElectionPublicKey))}
	for j, c := range r.ElectionCommitments {
		gd.commitments = append(gd.commitments, d.p(fmt.Sprintf("election_commitments[%d]", j), c))
	}
	if d.err != nil {
		ps.addf(CheckRead, file, where, "%v", d.err)
		return nil, false
	}
	if !gd.commitments[0].Equal(gd.key.Base()) {
		ps.addf(CheckGuardian, file, where, "election_public_key is not the first commitment K_{i,0}")
	}
	for j, p := range r.ElectionProofs {
		e.checkKeyProof(file, fmt.Sprintf("%s, commitment %d", where, j), gd.commitments[j], p, ps)
	}
	return gd, true
}

// checkKeyProof checks one commitment: in the subgroup, and its Schnorr proof.
func (e *election) checkKeyProof(file, where string, commitment eg.ElementModP, p schnorrJSON, ps *problems) {
	d := decoder{g: e.g}
	proof := schnorrProof{key: d.p("public_key", p.PublicKey), h: d.p("commitment", p.Commitment),
		c: d.q("challenge", p.Challenge), u: d.q("response", p.Response)}
	switch {
	case d.err != nil:
		ps.addf(CheckKeyProof, file, where, "%v", d.err)
	case !proof.key.Equal(commitment):
		ps.addf(CheckKeyProof, file, where, "the proof is for another key than the commitment")
	case !e.g.InSubgroup(commitment):
		ps.addf(CheckSubgroup, file, where, "the commitment is not in the order-q subgroup")
	default:
		if err := checkSchnorr(e.g, proof); err != nil {
			ps.addf(CheckKeyProof, file, where, "%v", err)
		}
	}
}
