package eg

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestDiscreteLog(t *testing.T) {
	g := TestGroup()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, max := range []uint64{0, 1, 2, 15, 16, 17, 1000, 123457} {
		d := g.NewDiscreteLog(max)
		for _, want := range []uint64{0, max, max / 2, rng.Uint64N(max + 1)} {
			got, err := d.Log("sel", g.GPow(g.ElementModQFromUint64(want)))
			if err != nil || got != want {
				t.Fatalf("max %d: log of g^%d = %d, %v", max, want, got, err)
			}
		}
		_, err := d.Log("contest-7/selection-3", g.GPow(g.ElementModQFromUint64(max+1)))
		if err == nil || !strings.Contains(err.Error(), "contest-7/selection-3") || !strings.Contains(err.Error(), "beyond") && !strings.Contains(err.Error(), "[0,") {
			t.Fatalf("max %d: g^(max+1) gave %v, want an error naming the selection and the bound", max, err)
		}
	}
	// A value that is no small power of g at all, such as a random subgroup element.
	if _, err := g.NewDiscreteLog(50).Log("x", g.GPow(g.RandomQ())); err == nil {
		t.Fatal("a random element has a small discrete log")
	}
}

func TestDecryptKnownSecretAndNonce(t *testing.T) {
	g := TestGroup()
	s := g.RandomQ()
	k := g.NewFixedBase(g.GPow(s))
	d := g.NewDiscreteLog(1000)
	r := g.RandomQ()
	ct, err := g.Encrypt(777, r, k)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := g.DecryptKnownSecret("a", ct, s, d); err != nil || m != 777 {
		t.Fatalf("known secret: %d, %v", m, err)
	}
	if m, err := g.DecryptKnownNonce("a", ct, r, k, d); err != nil || m != 777 {
		t.Fatalf("known nonce: %d, %v", m, err)
	}
	if _, err := g.Encrypt(1, g.ZeroQ(), k); err == nil {
		t.Fatal("nonce 0 accepted")
	}
	sum := g.AddCiphertexts(ct, ct, ct)
	if m, err := g.DecryptKnownSecret("sum", sum, s, g.NewDiscreteLog(5000)); err != nil || m != 3*777 {
		t.Fatalf("homomorphic sum: %d, %v", m, err)
	}
}

func TestDiscreteLogBoundIsCapped(t *testing.T) {
	for _, tc := range []struct{ max, bound, baby uint64 }{
		{0, 0, 1}, {3, 3, 4}, {100, 100, 44}, {10_000_000, 10_000_000, 12652},
		{^uint64(0), MaxDiscreteLogBound, 4 * (1<<18 + 1)},
	} {
		if bound, baby := discreteLogShape(tc.max); bound != tc.bound || baby != tc.baby {
			t.Errorf("max %d: bound %d and table %d, want %d and %d", tc.max, bound, baby, tc.bound, tc.baby)
		}
	}
}

// TestDiscreteLogKeyCollision forces two table entries onto one 64-bit key:
// a lookup must confirm candidates and pick the right one.
func TestDiscreteLogKeyCollision(t *testing.T) {
	g := TestGroup()
	d := g.NewDiscreteLog(100)
	y := g.GPow(g.ElementModQFromUint64(5))
	key := low64(y.big())
	d.dups = map[uint64][]uint32{key: {7, 5}}
	if got, err := d.Log("collision", y); err != nil || got != 5 {
		t.Fatalf("log with a colliding key = %d, %v; want 5", got, err)
	}
	d.dups[key] = []uint32{7}
	if _, err := d.Log("collision", y); err == nil {
		t.Fatal("an unconfirmed candidate was accepted")
	}
}
