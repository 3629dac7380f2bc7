package eg

import (
	"math/big"
	"sync"
	"sync/atomic"
)

// Window widths in bits: with a w-bit window a 256-bit exponent costs
// ⌈256/w⌉ multiplications and no squarings, against ~300 Montgomery steps for
// big.Int.Exp, and the table holds ⌈256/w⌉·(2^w − 1) elements. For the
// standard group an 8-bit table (32 multiplications) takes 4 MiB and a 10-bit
// one (26 multiplications) 13 MiB, so only bases that serve a whole election
// (g and K, through Precompute) get the wide one.
const (
	fixedBaseWindow        = 8
	fixedBaseWindowPrecomp = 10
)

// fixedBaseThreshold is how many exponentiations a FixedBase computes plainly
// before it builds its table: an 8-bit table costs about as much as 40 plain
// exponentiations, so a base used only a few times never pays for one.
const fixedBaseThreshold = 32

// FixedBase raises one base, such as g or an election public key K, to many
// exponents. It starts with plain exponentiation and switches to an 8-bit
// windowed table of b^(d·2^(8i)) after fixedBaseThreshold uses, or to a 10-bit
// one at once after Precompute. It is safe for concurrent use.
type FixedBase struct {
	grp  *Group
	base ElementModP
	uses atomic.Uint64

	once   sync.Once
	window int          // w, set with table
	table  [][]*big.Int // table[i][d-1] = base^(d·2^(w·i)), read-only once built
	ready  atomic.Bool

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

// Precompute builds the wide (10-bit) table now, unless a table exists
// already; meant for the bases used throughout an election, g and K.
func (f *FixedBase) Precompute() {
	f.once.Do(func() { f.build(fixedBaseWindowPrecomp) })
}

func (f *FixedBase) build(w int) {
	g := f.grp
	windows := (g.q.BitLen() + w - 1) / w
	entries := 1<<w - 1
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
	f.table, f.window = table, w
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
		f.once.Do(func() { f.build(fixedBaseWindow) })
	}
	return g.wrapP(f.tablePow(e.big()))
}

// tablePow multiplies one table entry per non-zero window of e (e < q).
func (f *FixedBase) tablePow(e *big.Int) *big.Int {
	p := f.grp.p
	acc := big.NewInt(1)
	words := e.Bits()
	for i := range f.table {
		d := windowAt(words, i*f.window, f.window)
		if d == 0 {
			continue
		}
		acc.Mul(acc, f.table[i][d-1])
		acc.Mod(acc, p)
	}
	return acc
}

// windowAt returns bits [start, start+w) of the little-endian words (w < 32).
func windowAt(words []big.Word, start, w int) uint {
	wi, bit := start/bitsPerWord, uint(start%bitsPerWord)
	if wi >= len(words) {
		return 0
	}
	d := uint64(words[wi]) >> bit
	if int(bit)+w > bitsPerWord && wi+1 < len(words) {
		d |= uint64(words[wi+1]) << (bitsPerWord - bit)
	}
	return uint(d) & (1<<w - 1)
}

const bitsPerWord = 32 << (^uint(0) >> 63)
