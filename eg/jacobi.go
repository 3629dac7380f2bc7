package eg

import (
	"math/big"
	"math/bits"
)

// legendre returns the Legendre symbol (x/p) of 0 < x < p for the group's
// prime p: 1 for a quadratic residue, −1 for a non-residue, 0 for x ≡ 0.
//
// math/big's Jacobi takes ~0.7 ms for 4096-bit operands, which would dominate
// batch verification, so this uses a binary algorithm in the style of
// Bernstein–Yang divsteps that only ever adds multiples of f to g, halves g
// and swaps f and g (the "posdivsteps" of libsecp256k1's Jacobi symbol): 62
// steps at a time are decided from the low 64 bits alone and applied to the
// full numbers as one 2×2 matrix. Each step keeps (x/p) = (−1)^sign·(g/f):
//
//   - g ← g + w·f leaves (g/f) unchanged;
//   - g ← g/2 multiplies it by (2/f), −1 iff f ≡ 3, 5 (mod 8);
//   - swapping odd positive f and g multiplies it by −1 iff f ≡ g ≡ 3 (mod 4)
//     (quadratic reciprocity).
//
// Because every step is one of these, the answer is right whatever the step
// choices; the divsteps rule for choosing them only governs how fast f reaches
// gcd = 1. Should it not within a generous bound, math/big answers instead.
func legendre(x, p *big.Int) int {
	if s, ok := legendreBinary(x, p); ok {
		return s
	}
	return big.Jacobi(new(big.Int).Mod(x, p), p)
}

// legendreBinary is the binary algorithm; ok is false when it does not apply
// (32-bit words, x outside (0, p)) or did not converge in time.
func legendreBinary(x, p *big.Int) (symbol int, ok bool) {
	if bitsPerWord != 64 || x.Sign() <= 0 || x.Cmp(p) >= 0 {
		return 0, false
	}
	n := len(p.Bits())
	f, g := make([]uint64, n), make([]uint64, n)
	for i, w := range p.Bits() {
		f[i] = uint64(w)
	}
	for i, w := range x.Bits() {
		g[i] = uint64(w)
	}
	eta, sign := int64(-1), uint64(0)
	// A batch removes ~62/2.9 bits of f and g on average; allow 4× as many.
	maxBatches := 4*64*n/21 + 16
	for batch := 0; batch < maxBatches; batch++ {
		var t [4]uint64
		eta, t, sign = posDivSteps62(eta, f[0], g[0], sign)
		updateFG(f[:n], g[:n], t)
		if isOne(f[:n]) {
			return 1 - 2*int(sign&1), true
		}
		for n > 1 && f[n-1] == 0 && g[n-1] == 0 {
			n--
		}
	}
	return 0, false
}

// isOne reports whether the little-endian number f is 1.
func isOne(f []uint64) bool {
	if f[0] != 1 {
		return false
	}
	for _, w := range f[1:] {
		if w != 0 {
			return false
		}
	}
	return true
}

// posDivSteps62 performs 62 Jacobi-preserving steps on the low 64 bits f, g
// (f odd) and returns the new eta, the transition matrix [u v; q r] with
// 2^62·(f', g') = (u·f + v·g, q·f + r·g), and the updated sign bit.
func posDivSteps62(eta int64, f, g uint64, sign uint64) (int64, [4]uint64, uint64) {
	u, v, q, r := uint64(1), uint64(0), uint64(0), uint64(1)
	i := 62
	for {
		// A sentinel bit at i stops the count of zeros at the steps left.
		zeros := bits.TrailingZeros64(g | (^uint64(0) << uint(i)))
		g >>= uint(zeros)
		u <<= uint(zeros)
		v <<= uint(zeros)
		eta -= int64(zeros)
		i -= zeros
		// An odd number of halvings flips the sign iff f ≡ 3, 5 (mod 8).
		sign ^= uint64(zeros) & ((f >> 1) ^ (f >> 2))
		if i == 0 {
			return eta, [4]uint64{u, v, q, r}, sign
		}
		if eta < 0 {
			eta = -eta
			f, g = g, f
			u, q = q, u
			v, r = r, v
			sign ^= (f & g) >> 1
		}
		limit := int(eta) + 1
		limit = min(limit, i, 6)
		mask := ^uint64(0) >> uint(64-limit)
		// w = −g/f mod 2^limit, using f·(2 − f²) ≡ f^−1 (mod 64) for odd f.
		w := (f * g * (f*f - 2)) & mask
		g += f * w
		q += u * w
		r += v * w
	}
}

// updateFG sets f ← (u·f + v·g)/2^62 and g ← (q·f + r·g)/2^62 in place, in
// one pass. The divisions are exact, all quantities are non-negative, and the
// results fit: u + v ≤ 2^62 makes the new f at most max(f, g), likewise g.
// Each limb's sum stays below 2^127, so its carry fits in one word.
func updateFG(f, g []uint64, t [4]uint64) {
	u, v, q, r := t[0], t[1], t[2], t[3]
	var fCarry, gCarry, fPrev, gPrev uint64
	for j := range f {
		fj, gj := f[j], g[j]
		fLo, fHi := mulAdd2(u, fj, v, gj, fCarry)
		gLo, gHi := mulAdd2(q, fj, r, gj, gCarry)
		if j > 0 {
			f[j-1] = fPrev>>62 | fLo<<2
			g[j-1] = gPrev>>62 | gLo<<2
		}
		fPrev, fCarry, gPrev, gCarry = fLo, fHi, gLo, gHi
	}
	n := len(f)
	f[n-1] = fPrev>>62 | fCarry<<2
	g[n-1] = gPrev>>62 | gCarry<<2
}

// mulAdd2 returns a·x + b·y + c as (low, high) words.
func mulAdd2(a, x, b, y, c uint64) (lo, hi uint64) {
	h1, l1 := bits.Mul64(a, x)
	h2, l2 := bits.Mul64(b, y)
	lo, carry := bits.Add64(l1, l2, 0)
	hi = h1 + h2 + carry
	lo, carry = bits.Add64(lo, c, 0)
	return lo, hi + carry
}
