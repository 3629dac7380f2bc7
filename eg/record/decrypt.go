package record

import (
	"fmt"
	"sync"

	"github.com/tallyq/tallyq/eg"
)

// SecretKey returns the guardian's election secret key s_i, checking g^s_i is its public key.
func (p *PrivateGuardian) SecretKey(g *eg.Group) (eg.ElementModQ, error) {
	s, err := p.ElectionKeys.KeyPair.SecretKey.Q(g)
	if err != nil {
		return s, fmt.Errorf("guardian %q: secret key: %w", p.GuardianID, err)
	}
	if !HexP(g.GPow(s)).Equal(p.ElectionKeys.KeyPair.PublicKey) {
		return eg.ElementModQ{}, fmt.Errorf("guardian %q: the secret key does not match the public key", p.GuardianID)
	}
	return s, nil
}

// BackupFor returns P_l(x_i), the backup the missing guardian l sent this guardian,
// decrypted with this guardian's auxiliary key and checked against l's commitments.
func (p *PrivateGuardian) BackupFor(g *eg.Group, missing *GuardianPublicKeys) (eg.ElementModQ, error) {
	b, ok := p.GuardianElectionPartialKeyBackups.Get(missing.ID)
	if !ok {
		return eg.ElementModQ{}, fmt.Errorf("guardian %q holds no backup from guardian %q", p.GuardianID, missing.ID)
	}
	return p.OpenBackup(g, b.PartialKeyBackup, missing.Commitments)
}

// Decryptor makes, checks and combines decryption shares for one election and its
// guardians. It caches the guardians' keys and the recovery keys it computes; it is safe
// for concurrent use.
type Decryptor struct {
	e         *Election
	guardians []*GuardianPublicKeys // in record order
	byID      map[string]*GuardianPublicKeys
	keys      map[string]*eg.FixedBase
	dlog      *eg.DiscreteLog

	mu       sync.Mutex
	recovery map[[2]string]*eg.FixedBase // (missing, available) -> g^P_l(x_i)
}

// NewDecryptor prepares decryption for the guardians' public records; counts up to
// maxCount (the number of cast ballots) are solved by discrete log.
func (e *Election) NewDecryptor(guardians []*GuardianRecord, maxCount uint64) (*Decryptor, error) {
	d := &Decryptor{e: e, byID: map[string]*GuardianPublicKeys{}, keys: map[string]*eg.FixedBase{},
		dlog: e.Group.NewDiscreteLog(maxCount), recovery: map[[2]string]*eg.FixedBase{}}
	if len(guardians) != e.Context.NumberOfGuardians {
		return nil, fmt.Errorf("%d guardian records but the context says %d", len(guardians), e.Context.NumberOfGuardians)
	}
	for _, r := range guardians {
		pub, err := r.PublicKeys(e.Group)
		if err != nil {
			return nil, err
		}
		if d.byID[pub.ID] != nil {
			return nil, fmt.Errorf("guardian %q appears twice", pub.ID)
		}
		d.guardians = append(d.guardians, pub)
		d.byID[pub.ID] = pub
		d.keys[pub.ID] = e.Group.NewFixedBase(pub.Key)
	}
	return d, nil
}

// Guardian returns a guardian's public keys.
func (d *Decryptor) Guardian(id string) (*GuardianPublicKeys, bool) {
	k, ok := d.byID[id]
	return k, ok
}

// RecoveryKey returns g^P_l(x_i) for missing guardian l and available guardian i,
// computed from l's commitments (and cached).
func (d *Decryptor) RecoveryKey(missingID, availableID string) (*eg.FixedBase, error) {
	missing, ok1 := d.byID[missingID]
	available, ok2 := d.byID[availableID]
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("recovery key: guardian %q or %q is unknown", missingID, availableID)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	key := [2]string{missingID, availableID}
	if k, ok := d.recovery[key]; ok {
		return k, nil
	}
	k := d.e.Group.NewFixedBase(d.e.Group.RecoveryKey(uint64(available.SequenceOrder), missing.Commitments))
	d.recovery[key] = k
	return k, nil
}

// Share computes guardian i's share M_i = A^s_i of a ciphertext with its proof (proof
// randomness from crypto/rand), as the record writes it.
func (d *Decryptor) Share(objectID, guardianID string, ct eg.Ciphertext, secret eg.ElementModQ) DecryptionShare {
	g := d.e.Group
	s := g.NewDecryptionShare(ct, secret, d.e.ExtendedBaseHash, g.RandomQ())
	proof := ChaumPedersenProofOf(s.Proof)
	return DecryptionShare{ObjectID: objectID, GuardianID: guardianID, Share: HexP(s.Share), Proof: &proof}
}

// Compensate computes available guardian i's part M_{l,i} = A^P_l(x_i) of missing
// guardian l's share from the backup value P_l(x_i), with its proof and recovery key.
func (d *Decryptor) Compensate(objectID, availableID, missingID string, ct eg.Ciphertext, backup eg.ElementModQ) (CompensatedShare, error) {
	g := d.e.Group
	rk, err := d.RecoveryKey(missingID, availableID)
	if err != nil {
		return CompensatedShare{}, err
	}
	s := g.NewCompensatedShare(ct, backup, d.e.ExtendedBaseHash, g.RandomQ())
	return CompensatedShare{ObjectID: objectID, GuardianID: availableID, MissingGuardianID: missingID,
		Share: HexP(s.Share), RecoveryKey: HexP(rk.Base()), Proof: ChaumPedersenProofOf(s.Proof)}, nil
}

// Reconstruct returns a missing guardian's share as the record writes it: M_l =
// ∏ M_{l,i}^w_i over the parts (w_i the Lagrange coefficients of the parts' guardians),
// with the parts and no proof. It does not check the parts: Combine does.
func (d *Decryptor) Reconstruct(objectID, missingID string, parts []CompensatedShare) (DecryptionShare, error) {
	available := make([]string, len(parts))
	ms := make([]eg.ElementModP, len(parts))
	for i, p := range parts {
		m, err := p.Share.P(d.e.Group)
		if err != nil {
			return DecryptionShare{}, fmt.Errorf("selection %s: guardian %q's part for %q: %w", objectID, p.GuardianID, missingID, err)
		}
		available[i], ms[i] = p.GuardianID, m
	}
	m, err := d.reconstruct(available, ms)
	if err != nil {
		return DecryptionShare{}, fmt.Errorf("selection %s: %w", objectID, err)
	}
	return DecryptionShare{ObjectID: objectID, GuardianID: missingID, Share: HexP(m), RecoveredParts: parts}, nil
}

func (d *Decryptor) reconstruct(available []string, parts []eg.ElementModP) (eg.ElementModP, error) {
	ws, err := d.lagrange(available)
	if err != nil {
		return eg.ElementModP{}, err
	}
	return d.e.Group.ReconstructShare(parts, ws)
}

// Coefficients returns the Lagrange coefficients of the available guardians, in the order
// given (coefficients.json).
func (d *Decryptor) Coefficients(available []string) (*LagrangeCoefficients, error) {
	ws, err := d.lagrange(available)
	if err != nil {
		return nil, err
	}
	out := &LagrangeCoefficients{}
	for _, w := range ws {
		out.Coefficients = append(out.Coefficients, HexQ(w))
	}
	return out, nil
}

func (d *Decryptor) lagrange(available []string) ([]eg.ElementModQ, error) {
	xs := make([]uint64, len(available))
	for i, id := range available {
		k, ok := d.byID[id]
		if !ok {
			return nil, fmt.Errorf("guardian %q is unknown", id)
		}
		xs[i] = uint64(k.SequenceOrder)
	}
	return d.e.Group.LagrangeCoefficients(xs)
}

// Combine checks the shares of one ciphertext and combines them into the decrypted
// selection: every guardian of the election must have a share; a direct share's proof is
// checked against the guardian's key; a missing guardian's share is rebuilt from its
// recovered parts (each part's recovery key recomputed from commitments and its proof
// checked; at least quorum parts), and must equal the share recorded with it; then
// g^t = B / ∏ M_i and t by discrete log. Errors name the selection and guardian.
func (d *Decryptor) Combine(objectID string, ct eg.Ciphertext, shares []DecryptionShare) (*PlaintextTallySelection, error) {
	g := d.e.Group
	if len(shares) != len(d.guardians) {
		return nil, fmt.Errorf("selection %s: %d shares for %d guardians", objectID, len(shares), len(d.guardians))
	}
	seen := map[string]bool{}
	ms := make([]eg.ElementModP, 0, len(shares))
	for _, s := range shares {
		if s.ObjectID != objectID || seen[s.GuardianID] {
			return nil, fmt.Errorf("selection %s: share for %q is for %s or repeated", objectID, s.GuardianID, s.ObjectID)
		}
		seen[s.GuardianID] = true
		m, err := d.checkShare(objectID, ct, s)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	gt, err := g.CombineShares(ct, ms)
	if err != nil {
		return nil, fmt.Errorf("selection %s: %w", objectID, err)
	}
	t, err := d.dlog.Log(objectID, gt)
	if err != nil {
		return nil, err
	}
	return &PlaintextTallySelection{ObjectID: objectID, Tally: int64(t), Value: HexP(gt), Message: CiphertextOf(ct), Shares: shares}, nil
}

// VerifyShare checks one guardian's share of a ciphertext as Combine does: a direct
// share's proof against the guardian's key, or a missing guardian's share against its
// recovered parts. Use it to check shares a guardian computed offline and uploaded.
func (d *Decryptor) VerifyShare(objectID string, ct eg.Ciphertext, s DecryptionShare) error {
	if s.ObjectID != objectID {
		return fmt.Errorf("selection %s: share from %q is for %s", objectID, s.GuardianID, s.ObjectID)
	}
	_, err := d.checkShare(objectID, ct, s)
	return err
}

// VerifyPart checks one compensated part: its recovery key is recomputed from the missing
// guardian's commitments and its proof checked against it.
func (d *Decryptor) VerifyPart(objectID string, ct eg.Ciphertext, p CompensatedShare) error {
	if p.ObjectID != objectID || p.GuardianID == p.MissingGuardianID {
		return fmt.Errorf("selection %s: part from %q for %q is for %s", objectID, p.GuardianID, p.MissingGuardianID, p.ObjectID)
	}
	if _, err := d.checkPart(ct, p); err != nil {
		return fmt.Errorf("selection %s: %w", objectID, err)
	}
	return nil
}

// checkShare verifies one guardian's share (direct or rebuilt) and returns M_i.
func (d *Decryptor) checkShare(objectID string, ct eg.Ciphertext, s DecryptionShare) (eg.ElementModP, error) {
	g := d.e.Group
	if _, ok := d.byID[s.GuardianID]; !ok {
		return eg.ElementModP{}, fmt.Errorf("selection %s: share from unknown guardian %q", objectID, s.GuardianID)
	}
	m, err := s.Share.P(g)
	if err != nil {
		return m, fmt.Errorf("selection %s: guardian %q: share: %w", objectID, s.GuardianID, err)
	}
	switch {
	case s.Proof != nil && s.RecoveredParts == nil:
		proof, err := s.Proof.Elements(g)
		if err == nil {
			err = proof.Verify(g, ct, m, d.keys[s.GuardianID], d.e.ExtendedBaseHash)
		}
		if err != nil {
			return m, fmt.Errorf("selection %s: guardian %q's share: %w", objectID, s.GuardianID, err)
		}
		return m, nil
	case s.Proof == nil && s.RecoveredParts != nil:
		rebuilt, err := d.rebuild(objectID, ct, s.GuardianID, s.RecoveredParts)
		if err != nil {
			return m, err
		}
		if !rebuilt.Equal(m) {
			return m, fmt.Errorf("selection %s: missing guardian %q's share is not the one its recovered parts give", objectID, s.GuardianID)
		}
		return m, nil
	}
	return m, fmt.Errorf("selection %s: guardian %q's share has neither exactly a proof nor exactly recovered parts", objectID, s.GuardianID)
}

// rebuild checks a missing guardian's recovered parts and returns ∏ M_{l,i}^w_i.
func (d *Decryptor) rebuild(objectID string, ct eg.Ciphertext, missingID string, parts Keyed[CompensatedShare]) (eg.ElementModP, error) {
	if len(parts) < d.e.Context.Quorum {
		return eg.ElementModP{}, fmt.Errorf("selection %s: missing guardian %q has %d recovered parts; the quorum is %d", objectID, missingID, len(parts), d.e.Context.Quorum)
	}
	available := make([]string, len(parts))
	ms := make([]eg.ElementModP, len(parts))
	for i, p := range parts {
		if p.ObjectID != objectID || p.MissingGuardianID != missingID || p.GuardianID == missingID {
			return eg.ElementModP{}, fmt.Errorf("selection %s: a recovered part of %q's share is for %s, guardian %q, from %q", objectID, missingID, p.ObjectID, p.MissingGuardianID, p.GuardianID)
		}
		m, err := d.checkPart(ct, p)
		if err != nil {
			return m, fmt.Errorf("selection %s: %w", objectID, err)
		}
		available[i], ms[i] = p.GuardianID, m
	}
	m, err := d.reconstruct(available, ms)
	if err != nil {
		return m, fmt.Errorf("selection %s: %w", objectID, err)
	}
	return m, nil
}

// checkPart checks one compensated part's recovery key and proof and returns M_{l,i}.
func (d *Decryptor) checkPart(ct eg.Ciphertext, p CompensatedShare) (eg.ElementModP, error) {
	g := d.e.Group
	rk, err := d.RecoveryKey(p.MissingGuardianID, p.GuardianID)
	if err != nil {
		return eg.ElementModP{}, err
	}
	if !HexP(rk.Base()).Equal(p.RecoveryKey) {
		return eg.ElementModP{}, fmt.Errorf("guardian %q's part for %q: recovery key is not ∏ K_{l,j}^(x^j) of the missing guardian's commitments", p.GuardianID, p.MissingGuardianID)
	}
	m, err := p.Share.P(g)
	if err == nil {
		var proof eg.ChaumPedersenProof
		if proof, err = p.Proof.Elements(g); err == nil {
			err = proof.Verify(g, ct, m, rk, d.e.ExtendedBaseHash)
		}
	}
	if err != nil {
		return m, fmt.Errorf("guardian %q's part for %q: %w", p.GuardianID, p.MissingGuardianID, err)
	}
	return m, nil
}

// Decryptor prepares decryption for the election of the record folder,
// checking its context against the manifest and the guardians; counts up to
// maxCount (the number of cast ballots) are solved by discrete log, and 0
// will do for computing shares, which solves none.
func (f *Folder) Decryptor(maxCount uint64) (*Decryptor, error) {
	constants, err := f.Constants()
	if err != nil {
		return nil, err
	}
	g, err := constants.KnownGroup()
	if err != nil {
		return nil, err
	}
	manifest, err := f.Manifest()
	if err != nil {
		return nil, err
	}
	ctx, err := f.Context()
	if err != nil {
		return nil, err
	}
	election, err := NewElection(g, manifest, ctx)
	if err != nil {
		return nil, err
	}
	guardians, err := f.Guardians()
	if err != nil {
		return nil, err
	}
	if err := VerifyContext(g, ctx, guardians); err != nil {
		return nil, err
	}
	return election.NewDecryptor(guardians, maxCount)
}
