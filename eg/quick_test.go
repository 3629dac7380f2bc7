package eg

import "testing"

func TestQuickRoundTrip(t *testing.T) {
	g := TestGroup()
	if !g.InSubgroup(g.Generator()) {
		t.Fatal("g not in subgroup")
	}
	s := g.RandomQ()
	k := g.NewFixedBase(g.GPow(s))
	qbar := g.Hash("qbar")
	for _, m := range []uint64{0, 1} {
		r := g.RandomQ()
		ct, err := g.Encrypt(m, r, k)
		if err != nil {
			t.Fatal(err)
		}
		p, err := g.NewDisjunctiveProof(ct, m, r, k, qbar, g.RandomQ())
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Verify(g, ct, k, qbar); err != nil {
			t.Fatal(err)
		}
		d := g.NewDiscreteLog(100)
		got, err := g.DecryptKnownSecret("x", ct, s, d)
		if err != nil || got != m {
			t.Fatal(got, err)
		}
	}
}
