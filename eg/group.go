// Package eg implements the ElectionGuard 1.x (spec 0.95–1.1) cryptography that
// tallyq computes with: the group, the hash function H, exponential ElGamal,
// the four kinds of Chaum–Pedersen/Schnorr proofs, batch verification, the key
// ceremony's polynomial math and threshold decryption.
//
// Every value is an immutable ElementModP or ElementModQ; every operation is a
// method on a *Group, which holds the parameters, the precomputed table for
// the generator and a counter of the modular exponentiations performed.
// A *Group is safe for concurrent use.
//
// Proofs are generated exactly as electionguard-python 1.x generates them
// (same nonce derivation from a seed, same challenge hashes), so a record's
// proofs are reproduced bit for bit from its private nonces, and verified
// either one at a time (Verify methods, which follow python's checks) or in
// batches of up to MaxBatch with random linear combinations
// (VerifyDisjunctiveBatch, VerifyConstantBatch, VerifyShareBatch), which
// accept the same inputs except with probability 2^−63 and name the first
// invalid item.
package eg

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"sync/atomic"
)

// Group is the multiplicative group Z_p^* with its order-q subgroup generated
// by g, where p = q·r + 1. Create one with Standard or TestGroup and share it:
// each Group builds its own fixed-base table for g and counts its own
// exponentiations.
type Group struct {
	name string
	p    *big.Int // read-only after construction, like every field below
	q    *big.Int
	r    *big.Int
	g    *big.Int
	pLen int // bytes of p

	pMinus1 *big.Int
	one     ElementModP

	gOnce  sync.Once
	gTable *FixedBase

	exps atomic.Uint64
}

// standardP is the 4096-bit prime of ElectionGuard 1.x (electionguard-python
// constants.py, the fixtures' constants.json "large_prime").
const standardP = "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF" +
	"93C467E37DB0C7A4D1BE3F810152CB56A1CECC3AF65CC0190C03DF34709AFFBD" +
	"8E4B59FA03A9F0EED0649CCB621057D11056AE9132135A08E43B4673D74BAFEA" +
	"58DEB878CC86D733DBE7BF38154B36CF8A96D1567899AAAE0C09D4C8B6B7B86F" +
	"D2A1EA1DE62FF8643EC7C271827977225E6AC2F0BD61C746961542A3CE3BEA5D" +
	"B54FE70E63E6D09F8FC28658E80567A47CFDE60EE741E5D85A7BD46931CED822" +
	"0365594964B839896FCAABCCC9B31959C083F22AD3EE591C32FAB2C7448F2A05" +
	"7DB2DB49EE52E0182741E53865F004CC8E704B7C5C40BF304C4D8C4F13EDF604" +
	"7C555302D2238D8CE11DF2424F1B66C2C5D238D0744DB679AF2890487031F9C0" +
	"AEA1C4BB6FE9554EE528FDF1B05E5B256223B2F09215F3719F9C7CCC69DDF172" +
	"D0D6234217FCC0037F18B93EF5389130B7A661E5C26E54214068BBCAFEA32A67" +
	"818BD3075AD1F5C7E9CC3D1737FB28171BAF84DBB6612B7881C1A48E439CD03A" +
	"92BF52225A2B38E6542E9F722BCE15A381B5753EA842763381CCAE83512B3051" +
	"1B32E5E8D80362149AD030AABA5F3A5798BB22AA7EC1B6D0F17903F4E22D8407" +
	"34AA85973F79A93FFB82A75C47C03D43D2F9CA02D03199BACEDDD4533A52566A" +
	"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"

// Test group: q = 2^64 − 59, r = 2·r' with r' = 2^126 + 4953 prime, p = q·r + 1
// (191 bits). It has the standard group's structure (p ≡ 3 mod 4, r/2 prime,
// g = 2^r mod p) so every argument made for the standard group holds for it,
// at a size where property tests run in microseconds.
const (
	testP = "7FFFFFFFFFFFFFE280000000000026B1FFFFFFFFFFF714FB"
	testQ = "FFFFFFFFFFFFFFC5"
)

// Standard returns the ElectionGuard 1.x group: the 4096-bit p, q = 2^256 − 189,
// r = (p−1)/q and g = 2^r mod p, equal to the sample records' constants.json.
func Standard() *Group {
	q := new(big.Int).Lsh(big.NewInt(1), 256)
	q.Sub(q, big.NewInt(189))
	return newGroup("standard", mustHex(standardP), q)
}

// TestGroup returns a 191-bit group with a 64-bit q and the same structure as
// Standard, for fast tests. It offers no security.
func TestGroup() *Group {
	return newGroup("test", mustHex(testP), mustHex(testQ))
}

func mustHex(s string) *big.Int {
	x, ok := new(big.Int).SetString(s, 16)
	if !ok {
		panic("eg: bad built-in constant " + s)
	}
	return x
}

// newGroup derives r and g = 2^r mod p from p and q.
func newGroup(name string, p, q *big.Int) *Group {
	pm1 := new(big.Int).Sub(p, big.NewInt(1))
	r, rem := new(big.Int).QuoRem(pm1, q, new(big.Int))
	if rem.Sign() != 0 {
		panic("eg: q does not divide p−1 in group " + name)
	}
	gen := new(big.Int).Exp(big.NewInt(2), r, p)
	grp := &Group{
		name: name, p: p, q: q, r: r, g: gen,
		pLen:    (p.BitLen() + 7) / 8,
		pMinus1: pm1,
	}
	grp.one = ElementModP{v: big.NewInt(1), size: grp.pLen}
	return grp
}

// Name is "standard" or "test".
func (g *Group) Name() string { return g.name }

// P returns a copy of the modulus p.
func (g *Group) P() *big.Int { return new(big.Int).Set(g.p) }

// Q returns a copy of the subgroup order q.
func (g *Group) Q() *big.Int { return new(big.Int).Set(g.q) }

// R returns a copy of the cofactor r = (p−1)/q.
func (g *Group) R() *big.Int { return new(big.Int).Set(g.r) }

// G returns a copy of the generator g as an integer.
func (g *Group) G() *big.Int { return new(big.Int).Set(g.g) }

// Generator returns the generator g of the order-q subgroup.
func (g *Group) Generator() ElementModP { return ElementModP{v: g.g, size: g.pLen} }

// PByteLen is the length in bytes of p, the width of ElementModP.Bytes.
func (g *Group) PByteLen() int { return g.pLen }

// ExpCount returns the number of modular exponentiations this group has
// performed so far: every PowP, GPow, FixedBase.Pow and subgroup check counts
// one, and so does each multi-exponentiation of a batch verification however
// many bases it combines. Building a fixed-base or discrete-log table is
// multiplications only and counts nothing.
func (g *Group) ExpCount() uint64 { return g.exps.Load() }

// countExp records n exponentiations.
func (g *Group) countExp(n uint64) { g.exps.Add(n) }

// OneP returns 1 as an ElementModP.
func (g *Group) OneP() ElementModP { return g.one }

// ZeroQ returns 0 as an ElementModQ.
func (g *Group) ZeroQ() ElementModQ { return ElementModQ{v: new(big.Int)} }

// OneQ returns 1 as an ElementModQ.
func (g *Group) OneQ() ElementModQ { return ElementModQ{v: big.NewInt(1)} }

// InSubgroup reports whether 1 ≤ x < p and x^q ≡ 1 (mod p), that is whether x
// lies in the order-q subgroup generated by g (python's is_valid_residue).
func (g *Group) InSubgroup(x ElementModP) bool {
	v := x.big()
	if v.Sign() <= 0 || v.Cmp(g.p) >= 0 {
		return false
	}
	g.countExp(1)
	return new(big.Int).Exp(v, g.q, g.p).Cmp(bigOne) == 0
}

var bigOne = big.NewInt(1)

// MulP returns the product of xs mod p (1 for none).
func (g *Group) MulP(xs ...ElementModP) ElementModP {
	acc := big.NewInt(1)
	for _, x := range xs {
		acc.Mul(acc, x.big())
		acc.Mod(acc, g.p)
	}
	return g.wrapP(acc)
}

// PowP returns b^e mod p. The exponent is an ElementModQ because every
// exponent ElectionGuard uses lives mod q.
func (g *Group) PowP(b ElementModP, e ElementModQ) ElementModP {
	g.countExp(1)
	return g.wrapP(new(big.Int).Exp(b.big(), e.big(), g.p))
}

// powBig returns b^e mod p for an arbitrary non-negative exponent.
func (g *Group) powBig(b, e *big.Int) *big.Int {
	g.countExp(1)
	return new(big.Int).Exp(b, e, g.p)
}

// ErrNoInverse is returned when asked for the inverse of 0 mod p.
var ErrNoInverse = errors.New("eg: 0 has no inverse mod p")

// InverseP returns x^−1 mod p, or ErrNoInverse for x = 0.
func (g *Group) InverseP(x ElementModP) (ElementModP, error) {
	inv := new(big.Int).ModInverse(x.big(), g.p)
	if inv == nil {
		return ElementModP{}, ErrNoInverse
	}
	return g.wrapP(inv), nil
}

// DivP returns a / b mod p, or ErrNoInverse for b = 0.
func (g *Group) DivP(a, b ElementModP) (ElementModP, error) {
	inv, err := g.InverseP(b)
	if err != nil {
		return ElementModP{}, err
	}
	return g.MulP(a, inv), nil
}

// AddQ returns the sum of xs mod q.
func (g *Group) AddQ(xs ...ElementModQ) ElementModQ {
	acc := new(big.Int)
	for _, x := range xs {
		acc.Add(acc, x.big())
	}
	return ElementModQ{v: acc.Mod(acc, g.q)}
}

// SubQ returns a − b mod q.
func (g *Group) SubQ(a, b ElementModQ) ElementModQ {
	d := new(big.Int).Sub(a.big(), b.big())
	return ElementModQ{v: d.Mod(d, g.q)}
}

// MulQ returns the product of xs mod q (1 for none).
func (g *Group) MulQ(xs ...ElementModQ) ElementModQ {
	acc := big.NewInt(1)
	for _, x := range xs {
		acc.Mul(acc, x.big())
		acc.Mod(acc, g.q)
	}
	return ElementModQ{v: acc}
}

// NegQ returns −a mod q.
func (g *Group) NegQ(a ElementModQ) ElementModQ {
	d := new(big.Int).Neg(a.big())
	return ElementModQ{v: d.Mod(d, g.q)}
}

// APlusBCQ returns a + b·c mod q, the response of every proof.
func (g *Group) APlusBCQ(a, b, c ElementModQ) ElementModQ {
	x := new(big.Int).Mul(b.big(), c.big())
	x.Add(x, a.big())
	return ElementModQ{v: x.Mod(x, g.q)}
}

// InverseQ returns a^−1 mod q, or an error for a ≡ 0.
func (g *Group) InverseQ(a ElementModQ) (ElementModQ, error) {
	inv := new(big.Int).ModInverse(a.big(), g.q)
	if inv == nil {
		return ElementModQ{}, errors.New("eg: 0 has no inverse mod q")
	}
	return ElementModQ{v: inv}, nil
}

// RandomQ returns a uniformly random element of [1, q) from crypto/rand.
func (g *Group) RandomQ() ElementModQ {
	max := new(big.Int).Sub(g.q, bigOne)
	x, err := rand.Int(rand.Reader, max)
	if err != nil {
		// crypto/rand does not fail on supported platforms; continuing with a
		// weak nonce would be worse than stopping.
		panic(fmt.Sprintf("eg: crypto/rand failed: %v", err))
	}
	return ElementModQ{v: x.Add(x, bigOne)}
}

// GPow returns g^e mod p using the generator's precomputed table.
func (g *Group) GPow(e ElementModQ) ElementModP {
	g.gOnce.Do(func() {
		g.gTable = g.NewFixedBase(g.Generator())
		g.gTable.Precompute()
	})
	return g.gTable.Pow(e)
}

// wrapP wraps a reduced value; x must not be shared.
func (g *Group) wrapP(x *big.Int) ElementModP { return ElementModP{v: x, size: g.pLen} }
