package eg

import (
	"math/big"
	"strings"
	"testing"
)

// The decoders must never panic, must reject what is out of range, and must
// round-trip what they accept to the same integer.

func FuzzElementModPFromHex(f *testing.F) {
	g := TestGroup()
	for _, s := range []string{"", "0", "00", "1", "abc", "ABC", g.P().Text(16), "-1", "0x1", "zz", strings.Repeat("F", 60)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		x, err := g.ElementModPFromHex(s)
		if err != nil {
			return
		}
		if x.Big().Cmp(g.P()) >= 0 || x.Big().Sign() < 0 {
			t.Fatalf("%q decoded out of range", s)
		}
		y, err := g.ElementModPFromHex(x.Hex())
		if err != nil || !y.Equal(x) || len(x.Hex())%2 != 0 || strings.ToUpper(x.Hex()) != x.Hex() {
			t.Fatalf("%q: Hex round trip failed: %q, %v", s, x.Hex(), err)
		}
	})
}

func FuzzElementModQFromHex(f *testing.F) {
	g := TestGroup()
	for _, s := range []string{"", "0", "1", g.Q().Text(16), "FFFFFFFFFFFFFFC4", "g"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		x, err := g.ElementModQFromHex(s)
		if err != nil {
			return
		}
		want, ok := new(big.Int).SetString(s, 16)
		if !ok || want.Cmp(x.Big()) != 0 || x.Big().Cmp(g.Q()) >= 0 {
			t.Fatalf("%q decoded to %s", s, x.Hex())
		}
		if y, err := g.ElementModQFromBytes(x.Bytes()); err != nil || !y.Equal(x) {
			t.Fatalf("%q: bytes round trip: %v", s, err)
		}
	})
}

func FuzzElementModPFromBytes(f *testing.F) {
	g := TestGroup()
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add(g.P().Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := g.ElementModPFromBytes(b)
		if err != nil {
			if new(big.Int).SetBytes(b).Cmp(g.P()) < 0 && len(b) <= maxHexLen/2 {
				t.Fatalf("in-range %x rejected: %v", b, err)
			}
			return
		}
		if len(x.Bytes()) != g.PByteLen() || new(big.Int).SetBytes(x.Bytes()).Cmp(new(big.Int).SetBytes(b)) != 0 {
			t.Fatalf("%x: Bytes = %x", b, x.Bytes())
		}
	})
}

func FuzzElementModQFromBytes(f *testing.F) {
	g := TestGroup()
	f.Add([]byte{})
	f.Add(g.Q().Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := g.ElementModQFromBytes(b)
		if err != nil {
			return
		}
		if x.Big().Cmp(new(big.Int).SetBytes(b)) != 0 || len(x.Bytes()) != 32 {
			t.Fatalf("%x decoded to %s", b, x.Hex())
		}
	})
}

// FuzzDisjunctiveVerify feeds arbitrary (decoded) values to proof
// verification, single and batched: it must return an error, not panic, and
// both must agree.
func FuzzDisjunctiveVerify(f *testing.F) {
	g := TestGroup()
	f.Add("1", "2", "3", "4", "5", "6", "7", "8")
	f.Add("0", "0", "0", "0", "0", "0", "0", "0")
	k := g.NewFixedBase(g.GPow(g.ElementModQFromUint64(99)))
	qbar := g.Hash("fuzz")
	f.Fuzz(func(t *testing.T, a, b, a0, b0, a1, b1, c0, v0 string) {
		ps := make([]ElementModP, 6)
		for i, s := range []string{a, b, a0, b0, a1, b1} {
			x, err := g.ElementModPFromHex(s)
			if err != nil {
				return
			}
			ps[i] = x
		}
		qs := make([]ElementModQ, 2)
		for i, s := range []string{c0, v0} {
			x, err := g.ElementModQFromHex(s)
			if err != nil {
				return
			}
			qs[i] = x
		}
		ct := Ciphertext{Pad: ps[0], Data: ps[1]}
		c := g.Hash(qbar, ps[0], ps[1], ps[2], ps[3], ps[4], ps[5])
		proof := DisjunctiveProof{ps[2], ps[3], ps[4], ps[5], qs[0], g.SubQ(c, qs[0]), c, qs[1], qs[1]}
		single := proof.Verify(g, ct, k, qbar)
		batch := g.VerifyDisjunctiveBatch([]DisjunctiveItem{{ct, proof}}, k, qbar)
		if (single == nil) != (batch == nil) {
			t.Fatalf("single %v, batch %v", single, batch)
		}
	})
}
