package eg

import (
	"fmt"
	"math/big"
)

// ElementModP is an immutable integer in [0, p). The zero value is 0.
// Decode one with Group.ElementModPFromHex, ElementModPFromBig or
// ElementModPFromBytes, which check the range.
type ElementModP struct {
	v    *big.Int // never mutated once wrapped
	size int      // byte length of p, the width of Bytes
}

// ElementModQ is an immutable integer in [0, q). The zero value is 0.
type ElementModQ struct {
	v *big.Int // never mutated once wrapped
}

var bigZero = new(big.Int)

func (x ElementModP) big() *big.Int {
	if x.v == nil {
		return bigZero
	}
	return x.v
}

func (x ElementModQ) big() *big.Int {
	if x.v == nil {
		return bigZero
	}
	return x.v
}

// Big returns a copy of x as a *big.Int.
func (x ElementModP) Big() *big.Int { return new(big.Int).Set(x.big()) }

// Big returns a copy of x as a *big.Int.
func (x ElementModQ) Big() *big.Int { return new(big.Int).Set(x.big()) }

// Hex returns x as electionguard-python 1.x serialises it: upper-case
// hexadecimal without leading zeros, left-padded with one "0" to an even
// length ("00" for 0).
func (x ElementModP) Hex() string { return pyHex(x.big()) }

// Hex returns x as electionguard-python 1.x serialises it (see ElementModP.Hex).
func (x ElementModQ) Hex() string { return pyHex(x.big()) }

// String returns Hex, so that elements print as the record shows them.
func (x ElementModP) String() string { return x.Hex() }

// String returns Hex, so that elements print as the record shows them.
func (x ElementModQ) String() string { return x.Hex() }

func pyHex(v *big.Int) string { return string(appendPyHex(nil, v)) }

// AppendHex appends v (non-negative) as electionguard-python 1.x's to_hex writes it:
// upper-case hex digits, an even number of them.
func AppendHex(dst []byte, v *big.Int) []byte { return appendPyHex(dst, v) }

// appendPyHex appends v as 1.x writes it — upper-case hex digits, an even
// number of them — two digits per big-endian byte, which is both that form
// and much faster than formatting and upper-casing text (hashing writes
// every element this way).
func appendPyHex(dst []byte, v *big.Int) []byte {
	const digits = "0123456789ABCDEF"
	if v.Sign() == 0 {
		return append(dst, '0', '0')
	}
	n := (v.BitLen() + 7) / 8
	start := len(dst)
	dst = append(dst, make([]byte, 3*n)...) // room for the bytes and their digits
	raw := v.FillBytes(dst[start+2*n:])
	out := dst[start : start+2*n]
	for i, b := range raw {
		out[2*i], out[2*i+1] = digits[b>>4], digits[b&0x0f]
	}
	return dst[:start+2*n]
}

// Bytes returns x big-endian in exactly as many bytes as p has.
func (x ElementModP) Bytes() []byte {
	size := x.size
	if size == 0 {
		size = (x.big().BitLen() + 7) / 8
	}
	return x.big().FillBytes(make([]byte, size))
}

// Bytes returns x big-endian in exactly 32 bytes.
func (x ElementModQ) Bytes() []byte { return x.big().FillBytes(make([]byte, 32)) }

// Equal reports whether x and y are the same integer.
func (x ElementModP) Equal(y ElementModP) bool { return x.big().Cmp(y.big()) == 0 }

// Equal reports whether x and y are the same integer.
func (x ElementModQ) Equal(y ElementModQ) bool { return x.big().Cmp(y.big()) == 0 }

// IsZero reports whether x is 0.
func (x ElementModQ) IsZero() bool { return x.big().Sign() == 0 }

// Uint64 returns x and whether it fits in a uint64.
func (x ElementModQ) Uint64() (uint64, bool) { return x.big().Uint64(), x.big().IsUint64() }

// ElementModPFromBig returns x as an ElementModP, or an error when x is not in [0, p).
func (g *Group) ElementModPFromBig(x *big.Int) (ElementModP, error) {
	if x == nil || x.Sign() < 0 || x.Cmp(g.p) >= 0 {
		return ElementModP{}, fmt.Errorf("eg: value is not an element mod p: want 0 ≤ x < p (%d bits)", g.p.BitLen())
	}
	return g.wrapP(new(big.Int).Set(x)), nil
}

// ElementModQFromBig returns x as an ElementModQ, or an error when x is not in [0, q).
func (g *Group) ElementModQFromBig(x *big.Int) (ElementModQ, error) {
	if x == nil || x.Sign() < 0 || x.Cmp(g.q) >= 0 {
		return ElementModQ{}, fmt.Errorf("eg: value is not an element mod q: want 0 ≤ x < q (%d bits)", g.q.BitLen())
	}
	return ElementModQ{v: new(big.Int).Set(x)}, nil
}

// ElementModQFromUint64 returns u mod q.
func (g *Group) ElementModQFromUint64(u uint64) ElementModQ {
	x := new(big.Int).SetUint64(u)
	return ElementModQ{v: x.Mod(x, g.q)}
}

// ElementModPFromHex decodes hexadecimal as the record writes it (either case,
// any length, no prefix) into an ElementModP in [0, p).
func (g *Group) ElementModPFromHex(s string) (ElementModP, error) {
	x, err := parseHex(s)
	if err != nil {
		return ElementModP{}, err
	}
	return g.ElementModPFromBig(x)
}

// ElementModQFromHex decodes hexadecimal as the record writes it into an
// ElementModQ in [0, q).
func (g *Group) ElementModQFromHex(s string) (ElementModQ, error) {
	x, err := parseHex(s)
	if err != nil {
		return ElementModQ{}, err
	}
	return g.ElementModQFromBig(x)
}

// maxHexLen bounds the input parsed, so that a hostile record cannot make the
// decoder allocate without bound before the range check.
const maxHexLen = 4096

func parseHex(s string) (*big.Int, error) {
	if s == "" {
		return nil, fmt.Errorf("eg: empty hex string")
	}
	if len(s) > maxHexLen {
		return nil, fmt.Errorf("eg: hex string of %d characters is too long for a group element", len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return nil, fmt.Errorf("eg: invalid hex character %q at offset %d", c, i)
		}
	}
	x, ok := new(big.Int).SetString(s, 16)
	if !ok {
		return nil, fmt.Errorf("eg: invalid hex string")
	}
	return x, nil
}

// ElementModPFromBytes decodes big-endian bytes (any length) into an
// ElementModP in [0, p).
func (g *Group) ElementModPFromBytes(b []byte) (ElementModP, error) {
	if len(b) > maxHexLen/2 {
		return ElementModP{}, fmt.Errorf("eg: %d bytes is too long for an element mod p", len(b))
	}
	return g.ElementModPFromBig(new(big.Int).SetBytes(b))
}

// ElementModQFromBytes decodes big-endian bytes (any length) into an
// ElementModQ in [0, q).
func (g *Group) ElementModQFromBytes(b []byte) (ElementModQ, error) {
	if len(b) > maxHexLen/2 {
		return ElementModQ{}, fmt.Errorf("eg: %d bytes is too long for an element mod q", len(b))
	}
	return g.ElementModQFromBig(new(big.Int).SetBytes(b))
}
