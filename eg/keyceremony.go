package eg

import (
	"errors"
	"fmt"
)

// Polynomial is a guardian's secret polynomial P(x) = Σ a_j·x^j mod q of
// degree quorum−1, with the public commitments K_j = g^(a_j) and a Schnorr
// proof of knowledge for each coefficient. a_0 is the guardian's election
// secret key s_i and K_0 its public key K_i. The coefficients never appear in
// formatted output.
type Polynomial struct {
	coefficients []ElementModQ // secret
	commitments  []ElementModP
	proofs       []SchnorrProof
}

// NewPolynomial draws quorum random coefficients with crypto/rand and proves
// knowledge of each.
func (g *Group) NewPolynomial(quorum int) (*Polynomial, error) {
	if quorum < 1 {
		return nil, fmt.Errorf("eg: a polynomial needs quorum ≥ 1, not %d", quorum)
	}
	coeffs := make([]ElementModQ, quorum)
	nonces := make([]ElementModQ, quorum)
	for j := range coeffs {
		coeffs[j], nonces[j] = g.RandomQ(), g.RandomQ()
	}
	return g.PolynomialFromCoefficients(coeffs, nonces)
}

// PolynomialFromCoefficients builds the polynomial with the given
// coefficients, using nonces[j] for coefficient j's Schnorr proof (so that
// tests are deterministic). The slices are copied.
func (g *Group) PolynomialFromCoefficients(coefficients, nonces []ElementModQ) (*Polynomial, error) {
	if len(coefficients) == 0 || len(nonces) != len(coefficients) {
		return nil, fmt.Errorf("eg: a polynomial needs ≥ 1 coefficient and one nonce each, got %d and %d", len(coefficients), len(nonces))
	}
	p := &Polynomial{
		coefficients: append([]ElementModQ(nil), coefficients...),
		commitments:  make([]ElementModP, len(coefficients)),
		proofs:       make([]SchnorrProof, len(coefficients)),
	}
	for j, a := range coefficients {
		p.commitments[j] = g.GPow(a)
		p.proofs[j] = g.NewSchnorrProof(a, p.commitments[j], nonces[j])
	}
	return p, nil
}

// Quorum is the number of coefficients, the number of guardians needed to decrypt.
func (p *Polynomial) Quorum() int { return len(p.coefficients) }

// SecretKey returns a_0, the guardian's election secret key s_i.
func (p *Polynomial) SecretKey() ElementModQ { return p.coefficients[0] }

// PublicKey returns K_0 = g^(a_0), the guardian's election public key K_i.
func (p *Polynomial) PublicKey() ElementModP { return p.commitments[0] }

// Coefficients returns a copy of the secret coefficients a_j.
func (p *Polynomial) Coefficients() []ElementModQ {
	return append([]ElementModQ(nil), p.coefficients...)
}

// Commitments returns a copy of the commitments K_j = g^(a_j).
func (p *Polynomial) Commitments() []ElementModP {
	return append([]ElementModP(nil), p.commitments...)
}

// Proofs returns a copy of the coefficients' Schnorr proofs.
func (p *Polynomial) Proofs() []SchnorrProof { return append([]SchnorrProof(nil), p.proofs...) }

// Evaluate returns P(x) mod q, the partial key backup P_i(ℓ) for the guardian
// with sequence order x.
func (p *Polynomial) Evaluate(g *Group, x uint64) ElementModQ {
	// Horner: ((a_{k−1}·x + a_{k−2})·x + …)·x + a_0.
	xq := g.ElementModQFromUint64(x)
	acc := g.ZeroQ()
	for j := len(p.coefficients) - 1; j >= 0; j-- {
		acc = g.APlusBCQ(p.coefficients[j], acc, xq)
	}
	return acc
}

// String redacts the coefficients.
func (p Polynomial) String() string {
	return fmt.Sprintf("eg.Polynomial{quorum: %d, coefficients: [redacted]}", len(p.coefficients))
}

// GoString redacts the coefficients.
func (p Polynomial) GoString() string { return p.String() }

// Format redacts the coefficients whatever the verb.
func (p Polynomial) Format(f fmt.State, verb rune) { fmt.Fprint(f, p.String()) }

// MarshalJSON refuses: a polynomial is secret and has no public encoding.
func (p Polynomial) MarshalJSON() ([]byte, error) {
	return nil, errors.New("eg: refusing to encode a secret polynomial")
}

// CommitmentProduct returns ∏ K_j^(x^j mod q): g^P(x) computed from public
// commitments. For a guardian l and the sequence order x of guardian i it is
// the recovery key used to check i's compensated shares for l.
func (g *Group) CommitmentProduct(x uint64, commitments []ElementModP) ElementModP {
	xq := g.ElementModQFromUint64(x)
	power := g.OneQ()
	acc := g.OneP()
	for _, k := range commitments {
		acc = g.MulP(acc, g.PowP(k, power))
		power = g.MulQ(power, xq)
	}
	return acc
}

// RecoveryKey is CommitmentProduct under the name 1.x gives it: the public
// key g^(P_l(i)) against which guardian i's shares for missing guardian l are
// checked.
func (g *Group) RecoveryKey(sequenceOrder uint64, commitments []ElementModP) ElementModP {
	return g.CommitmentProduct(sequenceOrder, commitments)
}

// VerifyBackup checks a partial key backup value P_l(x) received by the
// guardian with sequence order x against guardian l's commitments:
// g^value = ∏ K_{l,j}^(x^j).
func (g *Group) VerifyBackup(value ElementModQ, x uint64, commitments []ElementModP) error {
	if len(commitments) == 0 {
		return errors.New("eg: backup verification needs the sender's commitments")
	}
	if !g.GPow(value).Equal(g.CommitmentProduct(x, commitments)) {
		return fmt.Errorf("eg: partial key backup for sequence order %d does not match the sender's coefficient commitments", x)
	}
	return nil
}

// VerifyCommitments checks each commitment's Schnorr proof and that the proof
// is about that commitment; the error names the coefficient index.
func (g *Group) VerifyCommitments(commitments []ElementModP, proofs []SchnorrProof) error {
	if len(commitments) == 0 || len(proofs) != len(commitments) {
		return fmt.Errorf("eg: need one Schnorr proof per commitment, got %d commitments and %d proofs", len(commitments), len(proofs))
	}
	for j, k := range commitments {
		if !proofs[j].PublicKey.Equal(k) {
			return fmt.Errorf("eg: coefficient %d: the Schnorr proof is for a different public key than the commitment", j)
		}
		if err := proofs[j].Verify(g); err != nil {
			return fmt.Errorf("eg: coefficient %d: %w", j, err)
		}
	}
	return nil
}

// JointKey returns the election public key K = ∏ K_i.
func (g *Group) JointKey(guardianKeys ...ElementModP) ElementModP { return g.MulP(guardianKeys...) }
