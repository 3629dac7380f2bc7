package eg

import (
	"crypto/rand"
	"math/big"
	"testing"
	"time"
)

// Benchmarks run in the standard 4096-bit group. Ratios are measured within
// one run on the same inputs, e.g.
//
//	go test ./eg -run '^$' -bench . -benchtime 20x

func randomP(b *testing.B, g *Group) ElementModP {
	return g.GPow(g.RandomQ())
}

func BenchmarkMulP(b *testing.B) {
	g := standardGroup
	x, y := randomP(b, g), randomP(b, g)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x = g.MulP(x, y)
	}
}

func BenchmarkExp256(b *testing.B) {
	g := standardGroup
	x := randomP(b, g)
	es := make([]ElementModQ, 64)
	for i := range es {
		es[i] = g.RandomQ()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g.PowP(x, es[i%len(es)])
	}
}

// BenchmarkFixedBase times the precomputed tables for g and for an election
// key K against big.Int.Exp on the same fresh random 256-bit exponent each
// iteration, checks the results equal, and reports the speed-up.
func BenchmarkFixedBase(b *testing.B) {
	g := standardGroup
	k := g.NewFixedBase(randomP(b, g))
	k.Precompute()
	g.GPow(g.OneQ()) // builds g's table
	for _, tc := range []struct {
		name string
		base *big.Int
		pow  func(ElementModQ) ElementModP
	}{
		{"g", g.g, g.GPow},
		{"K", k.Base().big(), k.Pow},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var table, plain time.Duration
			want := new(big.Int)
			for i := 0; i < b.N; i++ {
				e := g.RandomQ()
				t0 := time.Now()
				got := tc.pow(e)
				t1 := time.Now()
				want.Exp(tc.base, e.big(), g.p)
				t2 := time.Now()
				table += t1.Sub(t0)
				plain += t2.Sub(t1)
				if got.big().Cmp(want) != 0 {
					b.Fatalf("table result ≠ big.Int.Exp for exponent %s", e.Hex())
				}
			}
			b.ReportMetric(float64(table.Nanoseconds())/float64(b.N), "table-ns/exp")
			b.ReportMetric(float64(plain.Nanoseconds())/float64(b.N), "bigexp-ns/exp")
			b.ReportMetric(float64(plain)/float64(table), "speedup")
		})
	}
}

// BenchmarkSelectionProofVerify verifies the same MaxBatch valid selection
// proofs one at a time and as one batch in every iteration, and reports
// both rates and their ratio.
func BenchmarkSelectionProofVerify(b *testing.B) {
	g := standardGroup
	k := g.NewFixedBase(randomP(b, g))
	k.Precompute()
	qbar := g.Hash("bench")
	items := make([]DisjunctiveItem, MaxBatch)
	for i := range items {
		m, r := uint64(i%2), g.RandomQ()
		ct, err := g.Encrypt(m, r, k)
		if err != nil {
			b.Fatal(err)
		}
		p, err := g.NewDisjunctiveProof(ct, m, r, k, qbar, g.RandomQ())
		if err != nil {
			b.Fatal(err)
		}
		items[i] = DisjunctiveItem{Ciphertext: ct, Proof: p}
	}
	benchSingleVsBatch(b, len(items), "proofs",
		func(i int) error { return items[i].Proof.Verify(g, items[i].Ciphertext, k, qbar) },
		func() error { return g.VerifyDisjunctiveBatch(items, k, qbar) })
}

// BenchmarkContestProofVerify verifies the same MaxBatch contest (constant)
// proofs one at a time and as one batch in every iteration.
func BenchmarkContestProofVerify(b *testing.B) {
	g := standardGroup
	k := g.NewFixedBase(randomP(b, g))
	k.Precompute()
	qbar := g.Hash("bench")
	items := make([]ConstantItem, MaxBatch)
	for i := range items {
		limit, r := 1+i%3, g.RandomQ()
		ct, err := g.Encrypt(uint64(limit), r, k)
		if err != nil {
			b.Fatal(err)
		}
		p, err := g.NewConstantProof(ct, limit, r, k, qbar, g.RandomQ())
		if err != nil {
			b.Fatal(err)
		}
		items[i] = ConstantItem{Ciphertext: ct, Proof: p, Limit: limit}
	}
	benchSingleVsBatch(b, len(items), "proofs",
		func(i int) error { return items[i].Proof.Verify(g, items[i].Ciphertext, items[i].Limit, k, qbar) },
		func() error { return g.VerifyConstantBatch(items, k, qbar) })
}

// benchSingleVsBatch times n single verifications and one batch verification
// of the same items in every iteration and reports both rates and the ratio.
func benchSingleVsBatch(b *testing.B, n int, unit string, single func(i int) error, batch func() error) {
	b.ResetTimer()
	var tSingle, tBatch time.Duration
	for range b.N {
		t0 := time.Now()
		for i := range n {
			if err := single(i); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		if err := batch(); err != nil {
			b.Fatal(err)
		}
		tSingle += t1.Sub(t0)
		tBatch += time.Since(t1)
	}
	total := float64(b.N * n)
	b.ReportMetric(total/tSingle.Seconds(), "single-"+unit+"/s")
	b.ReportMetric(total/tBatch.Seconds(), "batch-"+unit+"/s")
	b.ReportMetric(float64(tSingle)/float64(tBatch), "speedup")
}

// BenchmarkShareVerify verifies the same MaxBatch decryption shares (of five
// guardians) one at a time and as one batch in every iteration.
func BenchmarkShareVerify(b *testing.B) {
	g := standardGroup
	qbar := g.Hash("bench")
	keys := make([]*FixedBase, 5)
	secrets := make([]ElementModQ, len(keys))
	for i := range keys {
		secrets[i] = g.RandomQ()
		keys[i] = g.NewFixedBase(g.GPow(secrets[i]))
	}
	items := make([]ShareItem, MaxBatch)
	for i := range items {
		if i%len(keys) == 0 {
			ct := Ciphertext{Pad: randomP(b, g), Data: randomP(b, g)}
			items[i].Ciphertext = ct
		} else {
			items[i].Ciphertext = items[i-1].Ciphertext
		}
		j := i % len(keys)
		items[i].Share = g.NewDecryptionShare(items[i].Ciphertext, secrets[j], qbar, g.RandomQ())
		items[i].PublicKey = keys[j]
	}
	benchSingleVsBatch(b, len(items), "shares",
		func(i int) error { return items[i].Share.Verify(g, items[i].Ciphertext, items[i].PublicKey, qbar) },
		func() error { return g.VerifyShareBatch(items, qbar) })
}

func BenchmarkShareGeneration(b *testing.B) {
	g := standardGroup
	s := g.RandomQ()
	qbar := g.Hash("bench")
	ct := Ciphertext{Pad: randomP(b, g), Data: randomP(b, g)}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g.NewDecryptionShare(ct, s, qbar, g.RandomQ())
	}
}

// BenchmarkDiscreteLog solves g^t for random t ≤ 10^7 after building the table
// once (its build time is reported as table-build-ms).
func BenchmarkDiscreteLog(b *testing.B) {
	g := standardGroup
	const max = 10_000_000
	t0 := time.Now()
	d := g.NewDiscreteLog(max)
	build := time.Since(t0)
	targets := make([]ElementModP, 32)
	want := make([]uint64, len(targets))
	for i := range targets {
		n, _ := rand.Int(rand.Reader, big.NewInt(max+1))
		want[i] = n.Uint64()
		targets[i] = g.GPow(g.ElementModQFromUint64(want[i]))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(targets)
		got, err := d.Log("bench", targets[j])
		if err != nil || got != want[j] {
			b.Fatalf("log = %d, %v; want %d", got, err, want[j])
		}
	}
	b.ReportMetric(float64(build.Milliseconds()), "table-build-ms")
}
