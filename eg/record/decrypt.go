package record

import (
	"context"
	"errors"
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
// CombineUnit does the same for many selections, verifying their proofs together.
func (d *Decryptor) Combine(objectID string, ct eg.Ciphertext, shares []DecryptionShare) (*PlaintextTallySelection, error) {
	out, err := d.CombineUnit(context.Background(), []SelectionToCombine{{ObjectID: objectID, Ciphertext: ct, Shares: shares}})
	var se *SelectionError
	if errors.As(err, &se) {
		return nil, se.Err
	}
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// VerifyShare checks one guardian's share of a ciphertext as Combine does: a direct
// share's proof against the guardian's key, or a missing guardian's share against its
// recovered parts.
func (d *Decryptor) VerifyShare(objectID string, ct eg.Ciphertext, s DecryptionShare) error {
	if s.ObjectID != objectID {
		return fmt.Errorf("selection %s: share from %q is for %s", objectID, s.GuardianID, s.ObjectID)
	}
	var proofs proofSet
	p, err := d.collectShare(proofs.add, objectID, ct, s, false)
	if err != nil {
		return err
	}
	if err := proofs.verify(context.Background(), d.e.Group, d.e.ExtendedBaseHash); err != nil {
		return err
	}
	_, err = d.finishShare(objectID, p)
	return err
}

// VerifyPart checks one compensated part: its recovery key is recomputed from the missing
// guardian's commitments and its proof checked against it.
func (d *Decryptor) VerifyPart(objectID string, ct eg.Ciphertext, p CompensatedShare) error {
	if p.ObjectID != objectID || p.GuardianID == p.MissingGuardianID {
		return fmt.Errorf("selection %s: part from %q for %q is for %s", objectID, p.GuardianID, p.MissingGuardianID, p.ObjectID)
	}
	var proofs proofSet
	if _, err := d.collectPart(proofs.add, objectID, ct, p); err != nil {
		return err
	}
	return proofs.verify(context.Background(), d.e.Group, d.e.ExtendedBaseHash)
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
