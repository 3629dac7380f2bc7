package verify

import (
	"errors"
	"fmt"

	"github.com/tallyq/tallyq/eg"
)

// The proof checks of ElectionGuard 1.x (spec 0.95), written from the formulas: each
// returns an error naming the first equation that does not hold. Range checks happen
// when the record is decoded (every element below p, every exponent below q); subgroup
// membership of the ciphertexts, keys and shares is checked by the callers, once per
// element. The commitments (a, b) need no membership check of their own: with α, β, K
// and M in the subgroup the equations put them there.

// ciphertext is an ElGamal ciphertext (α, β) = (g^r, g^m·K^r).
type ciphertext struct {
	pad, data eg.ElementModP
}

func (c ciphertext) equal(d ciphertext) bool { return c.pad.Equal(d.pad) && c.data.Equal(d.data) }

// mul returns the componentwise product, the homomorphic sum of the plaintexts.
func (c ciphertext) mul(g *eg.Group, d ciphertext) ciphertext {
	return ciphertext{pad: g.MulP(c.pad, d.pad), data: g.MulP(c.data, d.data)}
}

// disjunctiveProof proves a selection encrypts 0 or 1.
type disjunctiveProof struct {
	a0, b0, a1, b1    eg.ElementModP
	c0, c1, c, v0, v1 eg.ElementModQ
}

// checkDisjunctive checks c = H(Q̄, α, β, a0, b0, a1, b1) = c0 + c1, g^v0 = a0·α^c0,
// g^v1 = a1·α^c1, K^v0 = b0·β^c0 and g^c1·K^v1 = b1·β^c1.
func (e *election) checkDisjunctive(ct ciphertext, p disjunctiveProof) error {
	g := e.g
	switch {
	case !g.Hash(e.qbar, ct.pad, ct.data, p.a0, p.b0, p.a1, p.b1).Equal(p.c):
		return errors.New("challenge is not H(Q̄, α, β, a0, b0, a1, b1)")
	case !g.AddQ(p.c0, p.c1).Equal(p.c):
		return errors.New("challenge is not proof_zero_challenge + proof_one_challenge")
	case !g.GPow(p.v0).Equal(g.MulP(p.a0, g.PowP(ct.pad, p.c0))):
		return errors.New("g^v0 ≠ a0·α^c0")
	case !g.GPow(p.v1).Equal(g.MulP(p.a1, g.PowP(ct.pad, p.c1))):
		return errors.New("g^v1 ≠ a1·α^c1")
	case !e.key.Pow(p.v0).Equal(g.MulP(p.b0, g.PowP(ct.data, p.c0))):
		return errors.New("K^v0 ≠ b0·β^c0")
	case !g.MulP(g.GPow(p.c1), e.key.Pow(p.v1)).Equal(g.MulP(p.b1, g.PowP(ct.data, p.c1))):
		return errors.New("g^c1·K^v1 ≠ b1·β^c1")
	}
	return nil
}

// constantProof proves a contest's selections add up to a constant.
type constantProof struct {
	a, b     eg.ElementModP
	c, v     eg.ElementModQ
	constant int
}

// checkConstant checks the proof is for limit, c = H(Q̄, A, B, a, b), g^v = a·A^c and
// g^(c·L)·K^v = b·B^c.
func (e *election) checkConstant(ct ciphertext, p constantProof, limit int) error {
	g := e.g
	switch {
	case p.constant != limit:
		return fmt.Errorf("the proof is for %d votes but the contest allows %d", p.constant, limit)
	case !g.Hash(e.qbar, ct.pad, ct.data, p.a, p.b).Equal(p.c):
		return errors.New("challenge is not H(Q̄, A, B, a, b)")
	case !g.GPow(p.v).Equal(g.MulP(p.a, g.PowP(ct.pad, p.c))):
		return errors.New("g^v ≠ a·A^c")
	}
	cl := g.MulQ(p.c, g.ElementModQFromUint64(uint64(limit)))
	if !g.MulP(g.GPow(cl), e.key.Pow(p.v)).Equal(g.MulP(p.b, g.PowP(ct.data, p.c))) {
		return errors.New("g^(c·L)·K^v ≠ b·B^c")
	}
	return nil
}

// chaumPedersenProof proves a decryption share M = A^s for the s of a key g^s.
type chaumPedersenProof struct {
	a, b eg.ElementModP
	c, v eg.ElementModQ
}

// checkChaumPedersen checks c = H(Q̄, A, B, a, b, M), g^v = a·K^c and A^v = b·M^c, K
// being a guardian's public key or a recovery key.
func (e *election) checkChaumPedersen(ct ciphertext, share eg.ElementModP, key *eg.FixedBase, p chaumPedersenProof) error {
	g := e.g
	switch {
	case !g.Hash(e.qbar, ct.pad, ct.data, p.a, p.b, share).Equal(p.c):
		return errors.New("challenge is not H(Q̄, A, B, a, b, M)")
	case !g.GPow(p.v).Equal(g.MulP(p.a, key.Pow(p.c))):
		return errors.New("g^v ≠ a·K^c")
	case !g.PowP(ct.pad, p.v).Equal(g.MulP(p.b, g.PowP(share, p.c))):
		return errors.New("A^v ≠ b·M^c")
	}
	return nil
}

// schnorrProof proves knowledge of the secret of a coefficient commitment K = g^a.
type schnorrProof struct {
	key, h eg.ElementModP
	c, u   eg.ElementModQ
}

// checkSchnorr checks c = H(K, h) and g^u = h·K^c.
func checkSchnorr(g *eg.Group, p schnorrProof) error {
	switch {
	case !g.Hash(p.key, p.h).Equal(p.c):
		return errors.New("challenge is not H(K, h)")
	case !g.GPow(p.u).Equal(g.MulP(p.h, g.PowP(p.key, p.c))):
		return errors.New("g^u ≠ h·K^c")
	}
	return nil
}
