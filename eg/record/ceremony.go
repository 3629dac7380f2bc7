package record

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/tallyq/tallyq/eg"
)

// GuardianSpec names a guardian of a key ceremony. Ids are free text (they name files, so
// no path separators); sequence orders are the distinct positive x at which polynomials
// are evaluated and need not follow the ids' order.
type GuardianSpec struct {
	ID            string
	SequenceOrder int
}

// BackupEncryption is how the ceremony protects partial key backups.
type BackupEncryption int

const (
	// BackupRSA encrypts each backup to the designated guardian's RSA auxiliary key, as
	// electionguard-python 1.x's rsa_encrypt does.
	BackupRSA BackupEncryption = iota
	// BackupIdentity stores backups as plain hex, as 1.x's identity_auxiliary_encrypt
	// does and the 0.95 sample records are. Only for tests and demos.
	BackupIdentity
)

// CeremonyOptions tune a key ceremony.
type CeremonyOptions struct {
	// RSABits is the auxiliary key size; 0 means DefaultRSABits (4096, as 1.x), which
	// takes seconds per guardian. Tests and demos may use 1024 (Go's minimum).
	RSABits int
	// Backups chooses how backups are encrypted (default BackupRSA).
	Backups BackupEncryption
}

// Ceremony is a finished key ceremony: the guardians' public and private records (in
// the order given) and the election context.
type Ceremony struct {
	Guardians []*GuardianRecord
	Private   []*PrivateGuardian
	Context   *Context
}

// KeyCeremony runs a key ceremony for the manifest as electionguard-python 1.x does, all
// guardians in one process: each guardian makes a secret polynomial of degree quorum−1
// with commitments and Schnorr proofs, and an RSA auxiliary key pair; each sends every
// guardian (itself included) its backup P_l(x_i) encrypted to that guardian's auxiliary
// key; each decrypts and checks the backups it received against the sender's
// commitments; the joint key is K = ∏K_i and the context carries the commitment, base
// and extended base hashes.
func KeyCeremony(g *eg.Group, m *Manifest, specs []GuardianSpec, quorum int, opts CeremonyOptions) (*Ceremony, error) {
	if err := checkSpecs(specs, quorum); err != nil {
		return nil, err
	}
	if opts.RSABits == 0 {
		opts.RSABits = DefaultRSABits
	}
	n := len(specs)
	polys := make([]*eg.Polynomial, n)
	aux := make([]AuxiliaryKeyPair, n)
	pubs := make(Keyed[ElectionPublicKey], n)
	auxPubs := make(Keyed[AuxiliaryPublicKey], n)
	for i, s := range specs {
		var err error
		if polys[i], err = g.NewPolynomial(quorum); err != nil {
			return nil, err
		}
		if aux[i], err = GenerateAuxiliaryKeyPair(s.ID, s.SequenceOrder, opts.RSABits); err != nil {
			return nil, err
		}
		pubs[i] = electionPublicKey(s, polys[i])
		auxPubs[i] = AuxiliaryPublicKey{OwnerID: s.ID, SequenceOrder: s.SequenceOrder, Key: aux[i].PublicKey}
	}
	private := make([]*PrivateGuardian, n)
	for l, s := range specs {
		private[l] = &PrivateGuardian{GuardianID: s.ID,
			ElectionKeys:                      electionKeys(g, s, polys[l]),
			AuxiliaryKeys:                     aux[l],
			GuardianAuxiliaryPublicKeys:       slices.Clone(auxPubs),
			GuardianElectionPublicKeys:        slices.Clone(pubs),
			GuardianElectionPartialKeyBackups: Keyed[ReceivedBackup]{},
			GuardianElectionPartialKeyVerifs:  Keyed[PartialKeyVerification]{},
		}
		for _, d := range specs {
			b, err := makeBackup(g, s, d, polys[l], auxPubs, opts.Backups)
			if err != nil {
				return nil, err
			}
			private[l].BackupsToShare = append(private[l].BackupsToShare, BackupToShare{b})
		}
	}
	if err := exchangeBackups(g, specs, private, polys); err != nil {
		return nil, err
	}
	records := make([]*GuardianRecord, n)
	commitments := make([][]eg.ElementModP, n)
	keys := make([]eg.ElementModP, n)
	for i, s := range specs {
		records[i] = &GuardianRecord{GuardianID: s.ID, SequenceOrder: s.SequenceOrder, ElectionPublicKey: pubs[i].Key,
			ElectionCommitments: pubs[i].CoefficientCommitments, ElectionProofs: pubs[i].CoefficientProofs}
		keys[i] = polys[i].PublicKey()
	}
	// The commitment hash takes the guardians in sequence order, as the
	// records are published, whatever the order of the specs.
	bySequence := make([]int, n)
	for i := range bySequence {
		bySequence[i] = i
	}
	slices.SortFunc(bySequence, func(a, b int) int { return cmp.Compare(specs[a].SequenceOrder, specs[b].SequenceOrder) })
	for k, i := range bySequence {
		commitments[k] = polys[i].Commitments()
	}
	return &Ceremony{Guardians: records, Private: private, Context: NewContext(g, m, quorum, keys, commitments)}, nil
}

// NewContext builds the election context from the manifest and the guardians' keys and
// commitments (the commitments in the guardians' sequence order).
func NewContext(g *eg.Group, m *Manifest, quorum int, keys []eg.ElementModP, commitments [][]eg.ElementModP) *Context {
	mh := m.CryptoHash(g)
	ch := CommitmentHash(g, commitments)
	base := CryptoBaseHash(g, len(keys), quorum, mh)
	return &Context{NumberOfGuardians: len(keys), Quorum: quorum, ElGamalPublicKey: HexP(g.JointKey(keys...)),
		CommitmentHash: HexQ(ch), ManifestHash: HexQ(mh), CryptoBaseHash: HexQ(base),
		CryptoExtendedBaseHash: HexQ(ExtendedBaseHash(g, base, ch)), ExtendedData: map[string]string{}}
}

func checkSpecs(specs []GuardianSpec, quorum int) error {
	if quorum < 1 || quorum > len(specs) {
		return fmt.Errorf("key ceremony: quorum %d must be between 1 and the %d guardians", quorum, len(specs))
	}
	ids, orders := map[string]bool{}, map[int]bool{}
	for _, s := range specs {
		if _, err := fileID(s.ID); err != nil {
			return fmt.Errorf("key ceremony: %w", err)
		}
		if s.SequenceOrder < 1 {
			return fmt.Errorf("key ceremony: guardian %q has sequence order %d; want ≥ 1", s.ID, s.SequenceOrder)
		}
		if ids[s.ID] || orders[s.SequenceOrder] {
			return fmt.Errorf("key ceremony: guardian %q or sequence order %d appears twice", s.ID, s.SequenceOrder)
		}
		ids[s.ID], orders[s.SequenceOrder] = true, true
	}
	return nil
}

func electionPublicKey(s GuardianSpec, p *eg.Polynomial) ElectionPublicKey {
	k := ElectionPublicKey{OwnerID: s.ID, SequenceOrder: s.SequenceOrder, Key: HexP(p.PublicKey())}
	for _, c := range p.Commitments() {
		k.CoefficientCommitments = append(k.CoefficientCommitments, HexP(c))
	}
	for _, pr := range p.Proofs() {
		k.CoefficientProofs = append(k.CoefficientProofs, SchnorrProofOf(pr))
	}
	return k
}

func electionKeys(g *eg.Group, s GuardianSpec, p *eg.Polynomial) ElectionKeys {
	k := ElectionKeys{OwnerID: s.ID, SequenceOrder: s.SequenceOrder,
		KeyPair: ElGamalKeyPair{SecretKey: Secret{HexQ(p.SecretKey())}, PublicKey: HexP(p.PublicKey())}}
	commitments, proofs := p.Commitments(), p.Proofs()
	for j, a := range p.Coefficients() {
		k.Polynomial.Coefficients = append(k.Polynomial.Coefficients,
			Coefficient{Value: Secret{HexQ(a)}, Commitment: HexP(commitments[j]), Proof: SchnorrProofOf(proofs[j])})
	}
	return k
}

func makeBackup(g *eg.Group, owner, designated GuardianSpec, p *eg.Polynomial, auxPubs Keyed[AuxiliaryPublicKey], how BackupEncryption) (PartialKeyBackup, error) {
	value := HexQ(p.Evaluate(g, uint64(designated.SequenceOrder)))
	b := PartialKeyBackup{OwnerID: owner.ID, DesignatedID: designated.ID, DesignatedSequenceOrder: designated.SequenceOrder}
	switch how {
	case BackupIdentity:
		b.EncryptedValue = SecretText(value.String())
	case BackupRSA:
		key, _ := auxPubs.Get(designated.ID)
		enc, err := EncryptBackup(value, key.Key)
		if err != nil {
			return b, fmt.Errorf("key ceremony: backup from %q to %q: %w", owner.ID, designated.ID, err)
		}
		b.EncryptedValue = enc
	default:
		return b, errors.New("key ceremony: unknown backup encryption")
	}
	return b, nil
}

// exchangeBackups hands every backup to its designated guardian, which decrypts it and
// checks it against the owner's commitments; the owner records the verification.
func exchangeBackups(g *eg.Group, specs []GuardianSpec, private []*PrivateGuardian, polys []*eg.Polynomial) error {
	for l, owner := range specs {
		for i, d := range specs {
			if i == l {
				continue
			}
			sent, _ := private[l].BackupsToShare.Get(d.ID)
			if _, err := private[i].ReceiveBackup(g, sent.PartialKeyBackup, polys[l].Commitments()); err != nil {
				return fmt.Errorf("key ceremony: %w", err)
			}
			private[l].GuardianElectionPartialKeyVerifs = append(private[l].GuardianElectionPartialKeyVerifs,
				PartialKeyVerification{OwnerID: owner.ID, DesignatedID: d.ID, VerifierID: d.ID, Verified: true})
		}
	}
	return nil
}

// ReceiveBackup decrypts a backup sent to this guardian, checks it against the sender's
// commitments and stores it.
func (p *PrivateGuardian) ReceiveBackup(g *eg.Group, b PartialKeyBackup, ownerCommitments []eg.ElementModP) (eg.ElementModQ, error) {
	v, err := p.OpenBackup(g, b, ownerCommitments)
	if err != nil {
		return v, err
	}
	p.GuardianElectionPartialKeyBackups = append(p.GuardianElectionPartialKeyBackups, ReceivedBackup{b})
	return v, nil
}

// OpenBackup decrypts a backup designated to this guardian with its auxiliary key and
// checks g^P_l(x_i) = ∏ K_{l,j}^(x_i^j) against the owner's commitments: a tampered
// backup is an error.
func (p *PrivateGuardian) OpenBackup(g *eg.Group, b PartialKeyBackup, ownerCommitments []eg.ElementModP) (eg.ElementModQ, error) {
	if b.DesignatedID != p.GuardianID || b.DesignatedSequenceOrder != p.ElectionKeys.SequenceOrder {
		return eg.ElementModQ{}, fmt.Errorf("backup from %q is for guardian %q (sequence order %d), not %q", b.OwnerID, b.DesignatedID, b.DesignatedSequenceOrder, p.GuardianID)
	}
	h, err := DecryptBackup(b, p.AuxiliaryKeys)
	if err != nil {
		return eg.ElementModQ{}, err
	}
	v, err := h.Q(g)
	if err != nil {
		return v, fmt.Errorf("backup from %q to %q: %w", b.OwnerID, b.DesignatedID, err)
	}
	if err := g.VerifyBackup(v, uint64(p.ElectionKeys.SequenceOrder), ownerCommitments); err != nil {
		return eg.ElementModQ{}, fmt.Errorf("backup from %q to %q: %w", b.OwnerID, b.DesignatedID, err)
	}
	return v, nil
}
