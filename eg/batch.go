package eg

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math/big"
)

// MaxBatch is the most proofs VerifyDisjunctiveBatch combines at once; longer
// inputs are verified in consecutive batches, so memory stays flat.
const MaxBatch = 64

// batchSecurityBits is the most λ can be: random exponents are λ-bit, and a
// batch containing an invalid proof passes with probability at most 2·2^−λ.
// A group's λ is lower when q or r/2 is not larger than 2^64 (the test group's
// q = 2^64 − 59 gives λ = 63), since the argument needs both above 2^λ.
const batchSecurityBits = 64

// batchBits returns the group's λ.
func (g *Group) batchBits() int {
	return min(batchSecurityBits, g.q.BitLen()-1, g.r.BitLen()-2)
}

// DisjunctiveItem is one selection's ciphertext and 0/1 proof to verify.
type DisjunctiveItem struct {
	Ciphertext Ciphertext
	Proof      DisjunctiveProof
}

// BatchError names the first invalid item of a batch (its index in the input)
// and why it is invalid.
type BatchError struct {
	Index int
	Err   error
}

func (e *BatchError) Error() string { return fmt.Sprintf("eg: proof %d: %v", e.Index, e.Err) }

func (e *BatchError) Unwrap() error { return e.Err }

// VerifyDisjunctiveBatch verifies every item's proof under public key K and
// extended base hash Q̄ — accepting exactly what DisjunctiveProof.Verify
// accepts, except with probability ≤ 2·2^−λ per batch (λ = 64 in the standard
// group) — and returns a
// *BatchError naming the first invalid item. Items are combined MaxBatch at a
// time; when a combination fails, its items are verified one by one to find
// the culprit.
//
// # Soundness
//
// For both groups p − 1 = 2·q·r' with q and r' = r/2 prime and larger than
// 2^λ (TestGroupStructure checks this), so Z_p^* = C_2 × C_q × C_r'.
//
//  1. Every α, β, a0, b0, a1, b1 must have Legendre symbol 1: that kills any
//     C_2 component (such as that of p − x for x in the subgroup) exactly,
//     not with probability 1/2 as random exponents would.
//  2. Y = ∏ α_i^(s_i)·β_i^(s'_i) with random λ-bit s must satisfy Y^q = 1: if
//     some α or β had a C_r' component, fixing the other exponents at most one
//     value of its s mod r' (> 2^λ) would cancel it, so this fails except with
//     probability ≤ 2^−λ. After 1 and 2 every α and β lies in the order-q
//     subgroup, so their exponents below may be reduced mod q; g and K are in
//     it too (K is checked once per FixedBase).
//  3. With random λ-bit t1..t4 per proof, the four equations combine into
//     g^(Σ t1·v0 + t2·v1 + t4·c1) · K^(Σ t3·v0 + t4·v1)
//     = ∏ α^(t1·c0 + t2·c1) · β^(t3·c0 + t4·c1) · a0^t1 · a1^t2 · b0^t3 · b1^t4.
//     If any single equation fails, its quotient is ≠ 1 in C_q × C_r' (no C_2
//     part, by 1), so it has a component of prime order q or r' > 2^λ and,
//     as in 2, the product is 1 with probability ≤ 2^−λ.
//
// The challenges and ranges are checked exactly as Verify does, per proof.
func (g *Group) VerifyDisjunctiveBatch(items []DisjunctiveItem, k *FixedBase, qbar ElementModQ) error {
	if len(items) > 0 {
		if err := checkPublicKey("disjunctive", k); err != nil {
			return &BatchError{Index: 0, Err: err}
		}
	}
	for start := 0; start < len(items); start += MaxBatch {
		end := min(start+MaxBatch, len(items))
		if err := g.verifyDisjunctiveChunk(items[start:end], k, qbar); err != nil {
			err.Index += start
			return err
		}
	}
	return nil
}

func (g *Group) verifyDisjunctiveChunk(items []DisjunctiveItem, k *FixedBase, qbar ElementModQ) *BatchError {
	// The hash and range checks are exact and cheap; the first one to fail
	// bounds the part whose equations need checking for an earlier failure.
	bad := len(items)
	var badErr error
	for i, it := range items {
		if err := it.Proof.checkStatic(g, it.Ciphertext, qbar); err != nil {
			bad, badErr = i, err
			break
		}
	}
	if !g.disjunctiveBatchHolds(items[:bad], k) {
		for i, it := range items[:bad] {
			if err := it.Proof.Verify(g, it.Ciphertext, k, qbar); err != nil {
				return &BatchError{Index: i, Err: err}
			}
		}
	}
	if badErr != nil {
		return &BatchError{Index: bad, Err: badErr}
	}
	return nil
}

// disjunctiveBatchHolds runs steps 1–3 of the soundness argument above on
// items whose static checks passed.
func (g *Group) disjunctiveBatchHolds(items []DisjunctiveItem, k *FixedBase) bool {
	if len(items) == 0 {
		return true
	}
	for _, it := range items {
		for _, x := range [...]ElementModP{it.Ciphertext.Pad, it.Ciphertext.Data, it.Proof.Proof0Pad, it.Proof.Proof0Data, it.Proof.Proof1Pad, it.Proof.Proof1Data} {
			if legendre(x.big(), g.p) != 1 {
				return false
			}
		}
	}
	n := len(items)
	rnd := randomExponents(6*n, g.batchBits())
	// Step 2: α and β are in the order-q subgroup.
	bases := make([]*big.Int, 0, 6*n)
	exps := make([]*big.Int, 0, 6*n)
	for i, it := range items {
		bases = append(bases, it.Ciphertext.Pad.big(), it.Ciphertext.Data.big())
		exps = append(exps, rnd[6*i], rnd[6*i+1])
	}
	if g.powBig(g.multiExp(bases, exps), g.q).Cmp(bigOne) != 0 {
		return false
	}
	// Step 3: the combined equation.
	bases, exps = bases[:0], exps[:0]
	xg, xk := new(big.Int), new(big.Int)
	tmp := new(big.Int)
	for i, it := range items {
		p := it.Proof
		t1, t2, t3, t4 := rnd[6*i+2], rnd[6*i+3], rnd[6*i+4], rnd[6*i+5]
		c0, c1, v0, v1 := p.Proof0Challenge.big(), p.Proof1Challenge.big(), p.Proof0Response.big(), p.Proof1Response.big()
		xg.Add(xg, tmp.Mul(t1, v0)).Add(xg, tmp.Mul(t2, v1)).Add(xg, tmp.Mul(t4, c1))
		xk.Add(xk, tmp.Mul(t3, v0)).Add(xk, tmp.Mul(t4, v1))
		ea := new(big.Int).Mul(t1, c0)
		ea.Add(ea, tmp.Mul(t2, c1)).Mod(ea, g.q)
		eb := new(big.Int).Mul(t3, c0)
		eb.Add(eb, tmp.Mul(t4, c1)).Mod(eb, g.q)
		bases = append(bases, it.Ciphertext.Pad.big(), it.Ciphertext.Data.big(),
			p.Proof0Pad.big(), p.Proof1Pad.big(), p.Proof0Data.big(), p.Proof1Data.big())
		exps = append(exps, ea, eb, t1, t2, t3, t4)
	}
	lhs := g.MulP(g.GPow(ElementModQ{v: xg.Mod(xg, g.q)}), k.Pow(ElementModQ{v: xk.Mod(xk, g.q)}))
	return lhs.big().Cmp(g.multiExp(bases, exps)) == 0
}

// randomExponents returns n uniformly random non-zero integers below 2^bits
// (bits ≤ 64) from crypto/rand.
func randomExponents(n, bits int) []*big.Int {
	buf := make([]byte, 8*n)
	if _, err := rand.Read(buf); err != nil {
		panic(fmt.Sprintf("eg: crypto/rand failed: %v", err))
	}
	out := make([]*big.Int, n)
	for i := range out {
		v := binary.LittleEndian.Uint64(buf[8*i:]) >> (64 - bits)
		if v == 0 {
			v = 1 // a zero exponent would drop its equation
		}
		out[i] = new(big.Int).SetUint64(v)
	}
	return out
}
