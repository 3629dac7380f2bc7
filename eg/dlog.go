package eg

import (
	"fmt"
	"math"
	"math/big"
)

// DiscreteLog solves g^t = y for 0 ≤ t ≤ Max by baby-step giant-step with a
// table of about 4·√Max entries keyed by the low 64 bits of g^j (so memory
// stays ~16 bytes an entry whatever the size of p). A lookup costs at most
// Max/(4·√Max) multiplications. It is immutable and safe for concurrent use.
type DiscreteLog struct {
	grp   *Group
	max   uint64
	baby  uint64            // table size B: g^j for 0 ≤ j < B
	index map[uint64]uint32 // low 64 bits of g^j → j
	dups  map[uint64][]uint32
	giant *big.Int // g^−B
}

// MaxDiscreteLogBound caps the bound of a DiscreteLog (about 6.9·10^10 votes
// for one selection), where the table already holds a million entries.
const MaxDiscreteLogBound = 1 << 36

// NewDiscreteLog builds the table for exponents up to max (for a tally, the
// number of ballots times the most votes a selection can get from one),
// capped at MaxDiscreteLogBound.
func (g *Group) NewDiscreteLog(max uint64) *DiscreteLog {
	max, baby := discreteLogShape(max)
	d := &DiscreteLog{grp: g, max: max, baby: baby, index: make(map[uint64]uint32, baby)}
	cur := big.NewInt(1)
	for j := uint64(0); j < baby; j++ {
		key := low64(cur)
		if prev, taken := d.index[key]; taken {
			if d.dups == nil {
				d.dups = make(map[uint64][]uint32)
			}
			if len(d.dups[key]) == 0 {
				d.dups[key] = []uint32{prev}
			}
			d.dups[key] = append(d.dups[key], uint32(j))
		} else {
			d.index[key] = uint32(j)
		}
		cur.Mul(cur, g.g)
		cur.Mod(cur, g.p)
	}
	// cur = g^B now.
	d.giant = new(big.Int).ModInverse(cur, g.p)
	return d
}

// discreteLogShape returns the capped bound and the baby-step table size.
func discreteLogShape(max uint64) (bound, baby uint64) {
	bound = min(max, MaxDiscreteLogBound)
	return bound, min(uint64(math.Ceil(math.Sqrt(float64(bound)+1)))*4, bound+1)
}

// Max is the largest exponent this table answers for.
func (d *DiscreteLog) Max() uint64 { return d.max }

func low64(x *big.Int) uint64 {
	words := x.Bits()
	switch {
	case len(words) == 0:
		return 0
	case bitsPerWord == 64 || len(words) == 1:
		return uint64(words[0])
	default:
		return uint64(words[0]) | uint64(words[1])<<32
	}
}

// Log returns t with g^t = y and 0 ≤ t ≤ Max, or an error naming label when
// there is none (a tally beyond the bound, or a value that is not a power of g).
func (d *DiscreteLog) Log(label string, y ElementModP) (uint64, error) {
	g := d.grp
	cur := new(big.Int).Set(y.big())
	for base := uint64(0); base <= d.max; base += d.baby {
		if t, ok := d.match(cur, base, y); ok {
			return t, nil
		}
		cur.Mul(cur, d.giant)
		cur.Mod(cur, g.p)
	}
	return 0, fmt.Errorf("eg: %s: decrypted value is not g^t for any count t in [0, %d]", label, d.max)
}

// match looks cur = y·g^−base up in the baby-step table and confirms a hit.
func (d *DiscreteLog) match(cur *big.Int, base uint64, y ElementModP) (uint64, bool) {
	key := low64(cur)
	j, ok := d.index[key]
	if !ok {
		return 0, false
	}
	candidates := d.dups[key]
	if candidates == nil {
		candidates = []uint32{j}
	}
	for _, j := range candidates {
		t := base + uint64(j)
		if t <= d.max && d.grp.GPow(d.grp.ElementModQFromUint64(t)).Equal(y) {
			return t, true
		}
	}
	return 0, false
}
