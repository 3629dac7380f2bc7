package eg

import "math/big"

// multiExp returns ∏ bases[i]^exps[i] mod p (exponents ≥ 0) by Straus's
// interleaving: one shared chain of squarings, and for each base a sliding
// window over a table of its odd powers. It counts as one exponentiation.
func (g *Group) multiExp(bases, exps []*big.Int) *big.Int {
	g.countExp(1)
	maxBits := 0
	for _, e := range exps {
		maxBits = max(maxBits, e.BitLen())
	}
	// events[pos] lists the table entries to multiply in after squaring down
	// to bit pos.
	type event struct{ base, odd int }
	events := make([][]event, maxBits)
	tables := make([][]*big.Int, len(bases))
	tmp := new(big.Int)
	for i, b := range bases {
		e := exps[i]
		if e.Sign() == 0 {
			continue
		}
		w := slidingWindow(e.BitLen())
		tables[i] = g.oddPowers(b, w, tmp)
		for pos := e.BitLen() - 1; pos >= 0; {
			if e.Bit(pos) == 0 {
				pos--
				continue
			}
			low := max(pos-w+1, 0)
			for e.Bit(low) == 0 {
				low++
			}
			d := 0
			for j := pos; j >= low; j-- {
				d = d<<1 | int(e.Bit(j))
			}
			events[low] = append(events[low], event{base: i, odd: d >> 1})
			pos = low - 1
		}
	}
	acc := big.NewInt(1)
	started := false
	for pos := maxBits - 1; pos >= 0; pos-- {
		if started {
			tmp.Mul(acc, acc)
			acc.Mod(tmp, g.p)
		}
		for _, ev := range events[pos] {
			tmp.Mul(acc, tables[ev.base][ev.odd])
			acc.Mod(tmp, g.p)
			started = true
		}
	}
	return acc
}

// slidingWindow is the window width minimising table size plus
// multiplications for an exponent of the given length.
func slidingWindow(bits int) int {
	switch {
	case bits <= 24:
		return 2
	case bits <= 96:
		return 3
	default:
		return 4
	}
}

// oddPowers returns b, b^3, …, b^(2^w − 1) mod p.
func (g *Group) oddPowers(b *big.Int, w int, tmp *big.Int) []*big.Int {
	n := 1 << (w - 1)
	t := make([]*big.Int, n)
	t[0] = new(big.Int).Mod(b, g.p)
	if n == 1 {
		return t
	}
	b2 := new(big.Int).Mul(t[0], t[0])
	b2.Mod(b2, g.p)
	for j := 1; j < n; j++ {
		tmp.Mul(t[j-1], b2)
		t[j] = new(big.Int).Mod(tmp, g.p)
	}
	return t
}
