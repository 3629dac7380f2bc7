package eg

import (
	"bytes"
	"math/big"
	"strings"
	"testing"
)

// TestGroupStructure checks the facts the batch verifier's soundness argument
// rests on, for both groups: p, q and r' = r/2 prime, p − 1 = 2·q·r',
// q ∤ r', q and r' > 2^64, and g = 2^r of order q.
func TestGroupStructure(t *testing.T) {
	for _, g := range []*Group{TestGroup(), standardGroup} {
		t.Run(g.Name(), func(t *testing.T) {
			rounds := 20
			if g.Name() == "standard" {
				rounds = 1 // plus Baillie–PSW; 4096-bit Miller–Rabin rounds are slow under -race
			}
			two := big.NewInt(2)
			rHalf, rem := new(big.Int).QuoRem(g.R(), two, new(big.Int))
			switch {
			case !g.P().ProbablyPrime(rounds):
				t.Error("p is not prime")
			case !g.Q().ProbablyPrime(20):
				t.Error("q is not prime")
			case rem.Sign() != 0 || !rHalf.ProbablyPrime(rounds):
				t.Error("r is not 2 × a prime")
			case new(big.Int).Mod(rHalf, g.Q()).Sign() == 0:
				t.Error("q divides r/2")
			case g.batchBits() < 63 || g.Q().BitLen() <= g.batchBits() || rHalf.BitLen() <= g.batchBits():
				t.Errorf("λ = %d: q or r/2 is not larger than 2^λ", g.batchBits())
			case new(big.Int).Add(new(big.Int).Mul(g.Q(), g.R()), bigOne).Cmp(g.P()) != 0:
				t.Error("p ≠ q·r + 1")
			case new(big.Int).Exp(two, g.R(), g.P()).Cmp(g.G()) != 0:
				t.Error("g ≠ 2^r mod p")
			case g.G().Cmp(bigOne) == 0 || !g.InSubgroup(g.Generator()):
				t.Error("g does not generate the order-q subgroup")
			case g.P().Bit(0) != 1 || g.P().Bit(1) != 1:
				t.Error("p ≢ 3 (mod 4), so −1 would be a square and Legendre would miss it")
			}
			if g.Name() == "standard" && g.Q().Cmp(new(big.Int).Sub(new(big.Int).Lsh(bigOne, 256), big.NewInt(189))) != 0 {
				t.Error("q ≠ 2^256 − 189")
			}
		})
	}
}

func TestAccessorsReturnCopies(t *testing.T) {
	g := TestGroup()
	g.P().SetInt64(5)
	g.Q().SetInt64(5)
	g.Generator().Big().SetInt64(5)
	x := g.ElementModQFromUint64(7)
	x.Big().SetInt64(9)
	if g.P().Cmp(big.NewInt(5)) == 0 || g.Q().Cmp(big.NewInt(5)) == 0 || g.Generator().Big().Cmp(big.NewInt(5)) == 0 || !x.Equal(g.ElementModQFromUint64(7)) {
		t.Fatal("a caller mutated the group or an element through an accessor")
	}
}

func TestElementEncodings(t *testing.T) {
	g := TestGroup()
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"0", "00"}, {"00", "00"}, {"1", "01"}, {"abc", "0ABC"}, {"0ABC", "0ABC"}, {"00ABC", "0ABC"}, {"FF", "FF"},
	} {
		x, err := g.ElementModQFromHex(tc.in)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if x.Hex() != tc.want {
			t.Errorf("Hex of %q = %q, want %q", tc.in, x.Hex(), tc.want)
		}
		if !bytes.Equal(x.Bytes(), x.Big().FillBytes(make([]byte, 32))) {
			t.Errorf("Bytes of %q is not 32 bytes big-endian", tc.in)
		}
	}
	pm1 := new(big.Int).Sub(g.P(), bigOne)
	x, err := g.ElementModPFromBig(pm1)
	if err != nil {
		t.Fatal(err)
	}
	if len(x.Bytes()) != g.PByteLen() || len(g.OneP().Bytes()) != g.PByteLen() {
		t.Errorf("ElementModP.Bytes is not %d bytes", g.PByteLen())
	}
	back, err := g.ElementModPFromBytes(x.Bytes())
	if err != nil || !back.Equal(x) {
		t.Errorf("bytes round trip: %v", err)
	}
	for _, bad := range []struct {
		name string
		err  func() error
		want string
	}{
		{"p itself", func() error { _, err := g.ElementModPFromBig(g.P()); return err }, "mod p"},
		{"q itself", func() error { _, err := g.ElementModQFromBig(g.Q()); return err }, "mod q"},
		{"negative", func() error { _, err := g.ElementModQFromBig(big.NewInt(-1)); return err }, "mod q"},
		{"p in hex", func() error { _, err := g.ElementModPFromHex(g.P().Text(16)); return err }, "mod p"},
		{"empty hex", func() error { _, err := g.ElementModPFromHex(""); return err }, "empty"},
		{"0x prefix", func() error { _, err := g.ElementModQFromHex("0x10"); return err }, "invalid hex"},
		{"sign", func() error { _, err := g.ElementModQFromHex("-10"); return err }, "invalid hex"},
		{"too long", func() error { _, err := g.ElementModPFromHex(strings.Repeat("0", 5000)); return err }, "too long"},
		{"q bytes", func() error { _, err := g.ElementModQFromBytes(g.Q().Bytes()); return err }, "mod q"},
	} {
		err := bad.err()
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: error %v, want one mentioning %q", bad.name, err, bad.want)
		}
	}
}

func TestInSubgroup(t *testing.T) {
	g := TestGroup()
	x := g.GPow(g.RandomQ())
	neg, _ := g.ElementModPFromBig(new(big.Int).Sub(g.P(), x.Big()))
	zero, _ := g.ElementModPFromBig(new(big.Int))
	if !g.InSubgroup(x) || g.InSubgroup(neg) || g.InSubgroup(zero) || !g.InSubgroup(g.OneP()) {
		t.Fatal("InSubgroup is wrong for g^x, p − g^x, 0 or 1")
	}
}

func TestGroupArithmetic(t *testing.T) {
	g := TestGroup()
	a, b := g.RandomQ(), g.RandomQ()
	ga, gb := g.GPow(a), g.GPow(b)
	if !g.MulP(ga, gb).Equal(g.GPow(g.AddQ(a, b))) {
		t.Error("g^a·g^b ≠ g^(a+b)")
	}
	if q, err := g.DivP(ga, gb); err != nil || !q.Equal(g.GPow(g.SubQ(a, b))) {
		t.Error("g^a/g^b ≠ g^(a−b)")
	}
	if !g.PowP(ga, b).Equal(g.GPow(g.MulQ(a, b))) {
		t.Error("(g^a)^b ≠ g^(ab)")
	}
	if !g.AddQ(a, g.NegQ(a)).IsZero() {
		t.Error("a + (−a) ≠ 0")
	}
	if inv, err := g.InverseQ(a); err != nil || !g.MulQ(a, inv).Equal(g.OneQ()) {
		t.Error("a·a^−1 ≠ 1")
	}
	if _, err := g.InverseP(ElementModP{}); err == nil {
		t.Error("0 has an inverse mod p")
	}
	f := g.NewFixedBase(ga)
	for i := 0; i < fixedBaseThreshold+3; i++ { // crosses from plain to table exponentiation
		e := g.RandomQ()
		if !f.Pow(e).Equal(g.PowP(ga, e)) {
			t.Fatalf("FixedBase.Pow ≠ PowP at use %d", i)
		}
	}
	before := g.ExpCount()
	g.PowP(ga, b)
	g.GPow(b)
	f.Pow(b)
	if got := g.ExpCount() - before; got != 3 {
		t.Errorf("three exponentiations counted as %d", got)
	}
}

func TestFixedBaseTablesMatchPlainExponentiation(t *testing.T) {
	g := TestGroup()
	b := g.GPow(g.RandomQ())
	wide := g.NewFixedBase(b)
	wide.Precompute()
	narrow := g.NewFixedBase(b)
	narrow.once.Do(func() { narrow.build(fixedBaseWindow) })
	qm1, _ := g.ElementModQFromBig(new(big.Int).Sub(g.Q(), bigOne))
	exps := []ElementModQ{g.ZeroQ(), g.OneQ(), qm1, g.ElementModQFromUint64(1 << 40)}
	for i := 0; i < 50; i++ {
		exps = append(exps, g.RandomQ())
	}
	for _, e := range exps {
		want := g.PowP(b, e)
		if !wide.Pow(e).Equal(want) || !narrow.Pow(e).Equal(want) {
			t.Fatalf("table exponentiation ≠ PowP for exponent %s", e.Hex())
		}
	}
}
