package eg

import (
	"errors"
	"fmt"
)

// DecryptionShare is M = A^s for one ciphertext and one secret s (a guardian's
// s_i, or a backup value P_l(i) for a compensated share), with the
// Chaum–Pedersen proof that it is.
type DecryptionShare struct {
	Share ElementModP
	Proof ChaumPedersenProof
}

// NewDecryptionShare computes M = A^secret and its proof for ct, with
// challenge H(Q̄, A, B, a, b, M) and proof randomness from seed.
func (g *Group) NewDecryptionShare(ct Ciphertext, secret ElementModQ, qbar, seed ElementModQ) DecryptionShare {
	m := g.PowP(ct.Pad, secret)
	return DecryptionShare{Share: m, Proof: g.NewChaumPedersenProof(ct, secret, m, qbar, seed)}
}

// NewCompensatedShare computes guardian i's share M_{l,i} = A^(P_l(i)) for
// missing guardian l from the backup value P_l(i), with its proof. Check it
// with Verify against the recovery key RecoveryKey(i, l's commitments).
func (g *Group) NewCompensatedShare(ct Ciphertext, backup ElementModQ, qbar, seed ElementModQ) DecryptionShare {
	return g.NewDecryptionShare(ct, backup, qbar, seed)
}

// Verify checks the share's proof against the public key (K_i, or the
// recovery key for a compensated share).
func (s DecryptionShare) Verify(g *Group, ct Ciphertext, publicKey *FixedBase, qbar ElementModQ) error {
	return s.Proof.Verify(g, ct, s.Share, publicKey, qbar)
}

// LagrangeCoefficients returns w_i = ∏_{j≠i} x_j/(x_j − x_i) mod q for each
// sequence order x_i of the available guardians, in the order given. Sequence
// orders must be distinct and non-zero mod q.
func (g *Group) LagrangeCoefficients(sequenceOrders []uint64) ([]ElementModQ, error) {
	if len(sequenceOrders) == 0 {
		return nil, errors.New("eg: Lagrange coefficients need at least one guardian")
	}
	xs := make([]ElementModQ, len(sequenceOrders))
	for i, s := range sequenceOrders {
		xs[i] = g.ElementModQFromUint64(s)
		if xs[i].IsZero() {
			return nil, fmt.Errorf("eg: sequence order %d is 0 mod q", s)
		}
	}
	out := make([]ElementModQ, len(xs))
	for i, xi := range xs {
		num, den := g.OneQ(), g.OneQ()
		for j, xj := range xs {
			if j == i {
				continue
			}
			if xj.Equal(xi) {
				return nil, fmt.Errorf("eg: sequence order %d appears twice", sequenceOrders[i])
			}
			num = g.MulQ(num, xj)
			den = g.MulQ(den, g.SubQ(xj, xi))
		}
		inv, err := g.InverseQ(den)
		if err != nil {
			return nil, err
		}
		out[i] = g.MulQ(num, inv)
	}
	return out, nil
}

// ReconstructShare returns a missing guardian's share ∏ M_{l,i}^(w_i) from the
// available guardians' compensated shares and their Lagrange coefficients (in
// the same order).
func (g *Group) ReconstructShare(parts []ElementModP, coefficients []ElementModQ) (ElementModP, error) {
	if len(parts) == 0 || len(parts) != len(coefficients) {
		return ElementModP{}, fmt.Errorf("eg: reconstruction needs one coefficient per part, got %d parts and %d coefficients", len(parts), len(coefficients))
	}
	acc := g.OneP()
	for i, m := range parts {
		acc = g.MulP(acc, g.PowP(m, coefficients[i]))
	}
	return acc, nil
}

// CombineShares returns g^t = B / ∏ M_i for ct from the shares of all n
// guardians (direct and reconstructed).
func (g *Group) CombineShares(ct Ciphertext, shares []ElementModP) (ElementModP, error) {
	if len(shares) == 0 {
		return ElementModP{}, errors.New("eg: combining needs at least one share")
	}
	gt, err := g.DivP(ct.Data, g.MulP(shares...))
	if err != nil {
		return ElementModP{}, fmt.Errorf("eg: combining shares: %w", err)
	}
	return gt, nil
}

// Decrypt combines the shares and returns the count t with g^t = B / ∏ M_i,
// naming label in the error when t is beyond d's bound.
func (g *Group) Decrypt(label string, ct Ciphertext, shares []ElementModP, d *DiscreteLog) (uint64, error) {
	gt, err := g.CombineShares(ct, shares)
	if err != nil {
		return 0, fmt.Errorf("eg: %s: %w", label, err)
	}
	return d.Log(label, gt)
}
