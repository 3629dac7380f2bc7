package eg

import (
	"math/big"
	"sync"
	"sync/atomic"
)

// fixedBaseWindow is the width in bits of a table window: a 256-bit exponent
// costs 32 multiplications and no squarings, against ~300 multiplications for
// big.Int.Exp; a table for the standard group takes 32·255 entries of 512
// bytes (4 MiB).
const fixedBaseWindow = 8

// fixedBaseThreshold is how many exponentiations a FixedBase computes plainly
// before it builds its table: building costs about as much as 30 plain
// exponentiations, so a base used only a few times never pays for one.
const fixedBaseThreshold = 32

// FixedBase raises one base, such as g or an election public key K, to many
// exponents. It starts with plain exponentiation and switches to a windowed
// table of b^(d·2^(8i)) after fixedBaseThreshold uses, or at once after
// Precompute. It is safe for concurrent use.
type FixedBase struct {
	grp  *Group
	base ElementModP
	uses atomic.Uint64

	once  sync.Once
	table [][]*big.Int // table[i][d-1] = base^(d·2^(w·i)), read-only once built
	ready atomic.Bool

	memberOnce sync.Once
	member     bool
}

// inSubgroup reports, computing it once, whether the base is in the order-q
// subgroup; proofs check their public key with it.
func (f *FixedBase) inSubgroup() bool {
	f.memberOnce.Do(func() { f.member = f.grp.InSubgroup(f.base) })
	return f.member
}

// NewFixedBase returns a FixedBase for b. It is cheap: the table is built on
// demand.
func (g *Group) NewFixedBase(b ElementModP) *FixedBase {
	return &FixedBase{grp: g, base: g.wrapP(b.Big())}
}

// Base returns the base b.
func (f *FixedBase) Base() ElementModP { return f.base }

// Precompute builds the table now (once); later calls return at once.
func (f *FixedBase) Precompute() {
	f.once.Do(f.build)
}

func (f *FixedBase) build() {
	g := f.grp
	windows := (g.q.BitLen() + fixedBaseWindow - 1) / fixedBaseWindow
	const entries = 1<<fixedBaseWindow - 1
	table := make([][]*big.Int, windows)
	cur := new(big.Int).Set(f.base.big()) // base^(2^(w·i))
	for i := range table {
		row := make([]*big.Int, entries)
		row[0] = new(big.Int).Set(cur)
		for d := 1; d < entries; d++ {
			x := new(big.Int).Mul(row[d-1], cur)
			row[d] = x.Mod(x, g.p)
		}
		next := new(big.Int).Mul(row[entries-1], cur)
		cur = next.Mod(next, g.p)
		table[i] = row
	}
	f.table = table
	f.ready.Store(true)
}

// Pow returns base^e mod p.
func (f *FixedBase) Pow(e ElementModQ) ElementModP {
	g := f.grp
	g.countExp(1)
	if !f.ready.Load() {
		if f.uses.Add(1) <= fixedBaseThreshold {
			return g.wrapP(new(big.Int).Exp(f.base.big(), e.big(), g.p))
		}
		f.Precompute()
	}
	return g.wrapP(f.tablePow(e.big()))
}

// tablePow multiplies one table entry per non-zero window of e (e < q).
func (f *FixedBase) tablePow(e *big.Int) *big.Int {
	p := f.grp.p
	acc := big.NewInt(1)
	words := e.Bits()
	const perWord = bitsPerWord / fixedBaseWindow
	for i := range f.table {
		wi := i / perWord
		if wi >= len(words) {
			break
		}
		d := uint(words[wi]>>(uint(i%perWord)*fixedBaseWindow)) & (1<<fixedBaseWindow - 1)
		if d == 0 {
			continue
		}
		acc.Mul(acc, f.table[i][d-1])
		acc.Mod(acc, p)
	}
	return acc
}

const bitsPerWord = 32 << (^uint(0) >> 63)
