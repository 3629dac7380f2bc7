package eg

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math/big"
)

// MaxBatch is the most items a batch verification (VerifyDisjunctiveBatch,
// VerifyConstantBatch, VerifyShareBatch) combines at once; longer inputs are
// verified in consecutive batches, so memory stays flat.
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

// Error says which item failed and why.
func (e *BatchError) Error() string { return fmt.Sprintf("eg: batch item %d: %v", e.Index, e.Err) }

// Unwrap returns the item's own error, typically a *ProofError.
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
	return g.verifyInChunks(len(items),
		func(i int) error { return items[i].Proof.checkStatic(g, items[i].Ciphertext, qbar) },
		func(lo, hi int) bool { return g.disjunctiveBatchHolds(items[lo:hi], k) },
		func(i int) error { return items[i].Proof.Verify(g, items[i].Ciphertext, k, qbar) })
}

// verifyInChunks verifies n items MaxBatch at a time. In each chunk the exact
// per-item checks (static) run first, in order; the items before the first
// failure are then checked together (holds), and only if that fails one by
// one (single), so that the error always names the first invalid item.
func (g *Group) verifyInChunks(n int, static func(i int) error, holds func(lo, hi int) bool, single func(i int) error) error {
	for lo := 0; lo < n; lo += MaxBatch {
		hi := min(lo+MaxBatch, n)
		bad := hi
		var badErr error
		for i := lo; i < hi; i++ {
			if err := static(i); err != nil {
				bad, badErr = i, err
				break
			}
		}
		if !holds(lo, bad) {
			for i := lo; i < bad; i++ {
				if err := single(i); err != nil {
					return &BatchError{Index: i, Err: err}
				}
			}
		}
		if badErr != nil {
			return &BatchError{Index: bad, Err: badErr}
		}
	}
	return nil
}

// allResidues reports whether every x has Legendre symbol 1, i.e. no C_2
// component (step 1 of the soundness argument).
func (g *Group) allResidues(xs []*big.Int) bool {
	for _, x := range xs {
		if legendre(x, g.p) != 1 {
			return false
		}
	}
	return true
}

// allInSubgroup reports whether ∏ xs[i]^s_i for random λ-bit s_i has order
// dividing q; after allResidues that puts every x in the order-q subgroup
// except with probability ≤ 2^−λ (step 2).
func (g *Group) allInSubgroup(xs []*big.Int) bool {
	if len(xs) == 0 {
		return true
	}
	return g.powBig(g.multiExp(xs, randomExponents(len(xs), g.batchBits())), g.q).Cmp(bigOne) == 0
}

// disjunctiveBatchHolds runs steps 1–3 of the soundness argument above on
// items whose static checks passed.
func (g *Group) disjunctiveBatchHolds(items []DisjunctiveItem, k *FixedBase) bool {
	if len(items) == 0 {
		return true
	}
	all := make([]*big.Int, 0, 6*len(items))
	for _, it := range items {
		p := it.Proof
		all = append(all, it.Ciphertext.Pad.big(), it.Ciphertext.Data.big(),
			p.Proof0Pad.big(), p.Proof1Pad.big(), p.Proof0Data.big(), p.Proof1Data.big())
	}
	if !g.allResidues(all) {
		return false
	}
	ciphertexts := make([]*big.Int, 0, 2*len(items))
	for i := range items {
		ciphertexts = append(ciphertexts, all[6*i], all[6*i+1])
	}
	if !g.allInSubgroup(ciphertexts) {
		return false
	}
	// Step 3: all[6i:6i+6] = α, β, a0, a1, b0, b1 get exponents
	// t1·c0 + t2·c1, t3·c0 + t4·c1, t1, t2, t3, t4.
	t := randomExponents(4*len(items), g.batchBits())
	exps := make([]*big.Int, 0, len(all))
	xg, xk, tmp := new(big.Int), new(big.Int), new(big.Int)
	for i, it := range items {
		p := it.Proof
		t1, t2, t3, t4 := t[4*i], t[4*i+1], t[4*i+2], t[4*i+3]
		c0, c1, v0, v1 := p.Proof0Challenge.big(), p.Proof1Challenge.big(), p.Proof0Response.big(), p.Proof1Response.big()
		xg.Add(xg, tmp.Mul(t1, v0)).Add(xg, tmp.Mul(t2, v1)).Add(xg, tmp.Mul(t4, c1))
		xk.Add(xk, tmp.Mul(t3, v0)).Add(xk, tmp.Mul(t4, v1))
		ea := new(big.Int).Mul(t1, c0)
		ea.Add(ea, tmp.Mul(t2, c1)).Mod(ea, g.q)
		eb := new(big.Int).Mul(t3, c0)
		eb.Add(eb, tmp.Mul(t4, c1)).Mod(eb, g.q)
		exps = append(exps, ea, eb, t1, t2, t3, t4)
	}
	lhs := g.MulP(g.GPow(ElementModQ{v: xg.Mod(xg, g.q)}), k.Pow(ElementModQ{v: xk.Mod(xk, g.q)}))
	return lhs.big().Cmp(g.multiExp(all, exps)) == 0
}

// ShareItem is one decryption share to verify: the ciphertext it decrypts,
// the share M with its Chaum–Pedersen proof, and the public key it answers
// to (a guardian's K_i, or the recovery key of a compensated share).
type ShareItem struct {
	Ciphertext Ciphertext
	Share      DecryptionShare
	PublicKey  *FixedBase
}

// VerifyShareBatch verifies every item's share proof under Q̄, accepting
// exactly what DecryptionShare.Verify accepts except with probability
// ≤ 2·2^−λ per batch, and returns a *BatchError naming the first invalid
// item. The argument is VerifyDisjunctiveBatch's: A, B, M, a, b have Legendre
// symbol 1, A, B, M are shown to lie in the order-q subgroup (one random
// combination raised to q), and then g^v = a·K^c and A^v = b·M^c are combined with random
// λ-bit weights t1, t2 as
// g^(Σ t1·v) = ∏ A^(−t2·v)·a^t1·b^t2·M^(t2·c) · ∏ over distinct keys K^(Σ t1·c).
func (g *Group) VerifyShareBatch(items []ShareItem, qbar ElementModQ) error {
	return g.verifyInChunks(len(items),
		func(i int) error {
			it := items[i]
			if err := checkPublicKey("chaum-pedersen", it.PublicKey); err != nil {
				return err
			}
			return it.Share.Proof.checkStatic(g, it.Ciphertext, it.Share.Share, qbar)
		},
		func(lo, hi int) bool { return g.shareBatchHolds(items[lo:hi]) },
		func(i int) error { return items[i].Share.Verify(g, items[i].Ciphertext, items[i].PublicKey, qbar) })
}

func (g *Group) shareBatchHolds(items []ShareItem) bool {
	if len(items) == 0 {
		return true
	}
	all := make([]*big.Int, 0, 5*len(items))
	for _, it := range items {
		p := it.Share.Proof
		all = append(all, it.Ciphertext.Pad.big(), it.Share.Share.big(), p.Pad.big(), p.Data.big(), it.Ciphertext.Data.big())
	}
	// Legendre for all five; the combination raised to q for A, M and B only:
	// a and b are held to the subgroup by the equations (as in Verify), up to
	// a C_2 component that the Legendre symbol excludes. A selection's shares
	// (each guardian's, each compensated part) all decrypt the same A and B,
	// so each distinct element is checked once.
	members := make([]*big.Int, 0, 3*len(items))
	for i := range items {
		members = append(members, all[5*i], all[5*i+1], all[5*i+4])
	}
	if !g.allResidues(distinct(all)) || !g.allInSubgroup(distinct(members)) {
		return false
	}
	// all[5i:5i+4] = A, M, a, b get exponents −t2·v, t2·c, t1, t2 (B is not
	// in the equations).
	t := randomExponents(2*len(items), g.batchBits())
	bases := make([]*big.Int, 0, 4*len(items))
	exps := make([]*big.Int, 0, 4*len(items))
	xg, tmp := new(big.Int), new(big.Int)
	keyExps := make(map[*FixedBase]*big.Int)
	for i, it := range items {
		p := it.Share.Proof
		t1, t2 := t[2*i], t[2*i+1]
		xg.Add(xg, tmp.Mul(t1, p.Response.big()))
		ea := new(big.Int).Mul(t2, p.Response.big())
		ea.Neg(ea).Mod(ea, g.q)
		em := new(big.Int).Mul(t2, p.Challenge.big())
		em.Mod(em, g.q)
		bases = append(bases, all[5*i:5*i+4]...)
		exps = append(exps, ea, em, t1, t2)
		ek, ok := keyExps[it.PublicKey]
		if !ok {
			ek = new(big.Int)
			keyExps[it.PublicKey] = ek
		}
		ek.Add(ek, tmp.Mul(t1, p.Challenge.big()))
	}
	rhs := g.wrapP(g.multiExp(mergeBases(bases, exps)))
	for k, e := range keyExps {
		rhs = g.MulP(rhs, k.Pow(ElementModQ{v: e.Mod(e, g.q)}))
	}
	return g.GPow(ElementModQ{v: xg.Mod(xg, g.q)}).Equal(rhs)
}

// distinct returns xs without repeated values, in first-seen order.
func distinct(xs []*big.Int) []*big.Int {
	seen := make(map[string]bool, len(xs))
	out := make([]*big.Int, 0, len(xs))
	for _, x := range xs {
		if k := string(x.Bytes()); !seen[k] {
			seen[k] = true
			out = append(out, x)
		}
	}
	return out
}

// mergeBases returns the terms of ∏ bases[i]^exps[i] with equal bases merged
// into one whose exponent is the sum of theirs (not reduced: the product is
// the same number whatever subgroup a base lies in), so that a base repeated
// across a batch, such as the A of a selection's shares, costs one
// exponent's work.
func mergeBases(bases, exps []*big.Int) ([]*big.Int, []*big.Int) {
	at := make(map[string]int, len(bases))
	outB, outE := make([]*big.Int, 0, len(bases)), make([]*big.Int, 0, len(exps))
	for i, b := range bases {
		k := string(b.Bytes())
		if j, ok := at[k]; ok {
			outE[j].Add(outE[j], exps[i])
			continue
		}
		at[k] = len(outB)
		outB, outE = append(outB, b), append(outE, new(big.Int).Set(exps[i]))
	}
	return outB, outE
}

// ConstantItem is one contest's accumulated ciphertext, its constant proof
// and the limit the proof must show (the manifest's votes_allowed).
type ConstantItem struct {
	Ciphertext Ciphertext
	Proof      ConstantProof
	Limit      int
}

// VerifyConstantBatch verifies every item's contest proof under K and Q̄,
// accepting exactly what ConstantProof.Verify accepts except with probability
// ≤ 2·2^−λ per batch, and returns a *BatchError naming the first invalid
// item. As in VerifyDisjunctiveBatch: A, B, a, b have Legendre symbol 1, A and
// B are shown to lie in the subgroup (a and b then follow from the
// equations), and g^v = a·A^c and g^(c·L)·K^v = b·B^c are combined with
// random λ-bit weights t1, t2 as
// g^(Σ t1·v + t2·c·L)·K^(Σ t2·v) = ∏ A^(t1·c)·B^(t2·c)·a^t1·b^t2.
func (g *Group) VerifyConstantBatch(items []ConstantItem, k *FixedBase, qbar ElementModQ) error {
	if len(items) > 0 {
		if err := checkPublicKey("constant", k); err != nil {
			return &BatchError{Index: 0, Err: err}
		}
	}
	return g.verifyInChunks(len(items),
		func(i int) error { return items[i].Proof.checkStatic(g, items[i].Ciphertext, items[i].Limit, qbar) },
		func(lo, hi int) bool { return g.constantBatchHolds(items[lo:hi], k) },
		func(i int) error { return items[i].Proof.Verify(g, items[i].Ciphertext, items[i].Limit, k, qbar) })
}

func (g *Group) constantBatchHolds(items []ConstantItem, k *FixedBase) bool {
	if len(items) == 0 {
		return true
	}
	all := make([]*big.Int, 0, 4*len(items))
	for _, it := range items {
		all = append(all, it.Ciphertext.Pad.big(), it.Ciphertext.Data.big(), it.Proof.Pad.big(), it.Proof.Data.big())
	}
	members := make([]*big.Int, 0, 2*len(items))
	for i := range items {
		members = append(members, all[4*i], all[4*i+1])
	}
	if !g.allResidues(all) || !g.allInSubgroup(members) {
		return false
	}
	t := randomExponents(2*len(items), g.batchBits())
	exps := make([]*big.Int, 0, len(all))
	xg, xk, tmp := new(big.Int), new(big.Int), new(big.Int)
	for i, it := range items {
		p := it.Proof
		t1, t2 := t[2*i], t[2*i+1]
		c, v := p.Challenge.big(), p.Response.big()
		xg.Add(xg, tmp.Mul(t1, v))
		cl := new(big.Int).Mul(c, big.NewInt(int64(it.Limit)))
		xg.Add(xg, cl.Mul(cl, t2))
		xk.Add(xk, tmp.Mul(t2, v))
		ea := new(big.Int).Mul(t1, c)
		eb := new(big.Int).Mul(t2, c)
		exps = append(exps, ea.Mod(ea, g.q), eb.Mod(eb, g.q), t1, t2)
	}
	lhs := g.MulP(g.GPow(ElementModQ{v: xg.Mod(xg, g.q)}), k.Pow(ElementModQ{v: xk.Mod(xk, g.q)}))
	return lhs.big().Cmp(g.multiExp(all, exps)) == 0
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
