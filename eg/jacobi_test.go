package eg

import (
	"crypto/rand"
	"math/big"
	"testing"
)

func TestLegendreMatchesBigJacobi(t *testing.T) {
	for _, g := range []*Group{TestGroup(), Standard()} {
		n := 2000
		if g.Name() == "standard" {
			n = 100
		}
		for i := 0; i < n; i++ {
			x, err := rand.Int(rand.Reader, g.p)
			if err != nil {
				t.Fatal(err)
			}
			if x.Sign() == 0 {
				continue
			}
			got, ok := legendreBinary(x, g.p)
			if want := big.Jacobi(x, g.p); !ok || got != want {
				t.Fatalf("%s group: binary Legendre of %x = %d (converged: %v), big.Jacobi = %d", g.Name(), x, got, ok, want)
			}
		}
		for _, x := range []*big.Int{big.NewInt(1), big.NewInt(2), new(big.Int).Sub(g.p, bigOne), g.g} {
			if got, want := legendre(x, g.p), big.Jacobi(x, g.p); got != want {
				t.Fatalf("%s group: legendre(%x) = %d, big.Jacobi = %d", g.Name(), x, got, want)
			}
		}
	}
}

func BenchmarkLegendre(b *testing.B) {
	g := Standard()
	x, _ := rand.Int(rand.Reader, g.p)
	b.Run("posdivsteps", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			legendre(x, g.p)
		}
	})
	b.Run("big.Jacobi", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			big.Jacobi(x, g.p)
		}
	})
}
