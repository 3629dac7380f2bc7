package eg

import (
	"crypto/sha256"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

// hashOf is the reference H: SHA-256 of the exact string, mod q.
func hashOf(g *Group, s string) ElementModQ {
	d := sha256.Sum256([]byte(s))
	x := new(big.Int).SetBytes(d[:])
	return ElementModQ{v: x.Mod(x, g.q)}
}

type hashableThing struct{ h ElementModQ }

func (x hashableThing) CryptoHash(*Group) ElementModQ { return x.h }

func TestHashEncodings(t *testing.T) {
	g := standardGroup
	five := g.ElementModQFromUint64(5)
	big255, _ := g.ElementModPFromBig(big.NewInt(255))
	var nilPtr *ElementModQ
	nested := g.Hash("a", five)
	for _, tc := range []struct {
		name  string
		items []any
		want  string
	}{
		{"nothing", nil, "|"},
		{"string", []any{"abc"}, "|abc|"},
		{"empty string stays empty", []any{""}, "||"},
		{"int 0 is decimal, not null", []any{0}, "|0|"},
		{"ints", []any{-3, int64(7), uint64(9), uint8(2)}, "|-3|7|9|2|"},
		{"elements: upper-case even-length hex", []any{five, big255, g.ZeroQ()}, "|05|FF|00|"},
		{"nil and nil pointer are null", []any{nil, nilPtr}, "|null|null|"},
		{"pointer is followed", []any{&five}, "|05|"},
		{"empty list is null", []any{[]any{}, []ElementModQ{}}, "|null|null|"},
		{"list is hashed recursively", []any{[]any{"a", five}, "b"}, "|" + nested.Hex() + "|b|"},
		{"typed slice", []any{[]string{"a", "b"}}, "|" + g.Hash("a", "b").Hex() + "|"},
		{"bools as python prints them", []any{true, false}, "|True|False|"},
		{"big.Int decimal", []any{big.NewInt(1234)}, "|1234|"},
		{"CryptoHashable", []any{hashableThing{five}}, "|05|"},
		{"utf-8", []any{"é"}, "|é|"},
	} {
		if got, want := g.Hash(tc.items...), hashOf(g, tc.want); !got.Equal(want) {
			t.Errorf("%s: Hash = %s, want H(%q) = %s", tc.name, got.Hex(), tc.want, want.Hex())
		}
	}
}

func TestHashReducesModQ(t *testing.T) {
	g := TestGroup() // a 64-bit q makes the reduction visible in every value
	for _, s := range []string{"a", "b", "c"} {
		h := g.Hash(s)
		d := sha256.Sum256([]byte("|" + s + "|"))
		want := new(big.Int).Mod(new(big.Int).SetBytes(d[:]), g.q)
		if h.Big().Cmp(want) != 0 {
			t.Errorf("Hash(%q) not reduced mod q", s)
		}
	}
}

func TestHashPanicsOnUnknownType(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Hash accepted a float")
		}
	}()
	TestGroup().Hash(1.5)
}

// appendPyHex writes what python's format(v, "X"), padded to an even length,
// writes.
func TestAppendPyHex(t *testing.T) {
	want := func(v *big.Int) string {
		h := strings.ToUpper(v.Text(16))
		if len(h)%2 == 1 {
			h = "0" + h
		}
		return h
	}
	r := rand.New(rand.NewPCG(1, 2))
	values := []*big.Int{big.NewInt(0), big.NewInt(1), big.NewInt(15), big.NewInt(16), big.NewInt(255), big.NewInt(256)}
	for range 200 {
		b := make([]byte, 1+r.IntN(600))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		values = append(values, new(big.Int).SetBytes(b))
	}
	for _, v := range values {
		if got := string(appendPyHex([]byte("x"), v)); got != "x"+want(v) {
			t.Fatalf("appendPyHex(%s) = %q, want %q", v.Text(16), got, "x"+want(v))
		}
	}
}
