package verify

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/tallyq/tallyq/eg"
)

// recoveryKeys computes and caches the recovery keys g^(P_l(x_i)) = ∏_j K_{l,j}^(x_i^j)
// of missing guardian l at available guardian i; it is safe for concurrent use.
type recoveryKeys struct {
	e    *election
	mu   sync.Mutex
	keys map[[2]string]*eg.FixedBase
}

func (r *recoveryKeys) get(missing, available *guardian) *eg.FixedBase {
	key := [2]string{missing.id, available.id}
	r.mu.Lock()
	defer r.mu.Unlock()
	if k, ok := r.keys[key]; ok {
		return k
	}
	g := r.e.g
	x := g.ElementModQFromUint64(uint64(available.x))
	power := g.OneQ() // x^j
	acc := g.OneP()
	for _, c := range missing.commitments {
		acc = g.MulP(acc, g.PowP(c, power))
		power = g.MulQ(power, x)
	}
	k := g.NewFixedBase(acc)
	r.keys[key] = k
	return k
}

// lagrange returns the Lagrange coefficients at 0 of the points xs:
// w_i = ∏_{j≠i} x_j / (x_j − x_i) mod q.
func lagrange(g *eg.Group, xs []int) ([]eg.ElementModQ, error) {
	out := make([]eg.ElementModQ, len(xs))
	for i, xi := range xs {
		num, den := g.OneQ(), g.OneQ()
		for j, xj := range xs {
			if j == i {
				continue
			}
			num = g.MulQ(num, g.ElementModQFromUint64(uint64(xj)))
			den = g.MulQ(den, g.SubQ(g.ElementModQFromUint64(uint64(xj)), g.ElementModQFromUint64(uint64(xi))))
		}
		inv, err := g.InverseQ(den)
		if err != nil {
			return nil, fmt.Errorf("sequence order %d appears twice among %v", xi, xs)
		}
		out[i] = g.MulQ(num, inv)
	}
	return out, nil
}

// decryption is the outcome of checking one decrypted selection.
type decryption struct {
	problems  problems
	available []string // guardians with a share of their own, in record order
	missing   []string // guardians whose share was reconstructed
}

// selectionCheck checks one decrypted selection of tally.json or of a spoiled ballot.
type selectionCheck struct {
	v     *run
	file  string
	where string
	ct    ciphertext // what the selection must decrypt
	s     *plaintextTallySelectionJSON
	out   *decryption
}

// checkDecryption checks a decrypted selection: its message is ct (what of names it);
// every guardian has one share; each share of its own has a valid Chaum–Pedersen proof
// for the guardian's key; each missing guardian's share is ∏ M_{l,i}^(w_i) of at least
// quorum parts, each with its recovery key recomputed from the missing guardian's
// commitments and a valid proof against it; and value = B / ∏ M_i = g^tally.
func (v *run) checkDecryption(file, where, of string, ct ciphertext, s *plaintextTallySelectionJSON) *decryption {
	c := &selectionCheck{v: v, file: file, where: where, ct: ct, s: s, out: &decryption{problems: problems{limit: math.MaxInt}}}
	g := v.e.g
	d := decoder{g: g}
	msg := d.ciphertext("message", s.Message)
	value := d.p("value", s.Value)
	if d.err != nil {
		c.fail(CheckRead, "", "%v", d.err)
		return c.out
	}
	if !msg.equal(ct) {
		c.fail(CheckTallyMessage, "", "the message is not %s", of)
	}
	shares := c.sharesByGuardian()
	if shares == nil {
		return c.out
	}
	product := g.OneP()
	for _, gd := range v.e.guardians {
		if sh := shares[gd.id]; sh.Proof != nil {
			product = g.MulP(product, c.ownShare(gd, sh))
			c.out.available = append(c.out.available, gd.id)
		}
	}
	for _, gd := range v.e.guardians {
		if sh := shares[gd.id]; sh.Proof == nil {
			product = g.MulP(product, c.reconstructedShare(gd, sh, shares))
			c.out.missing = append(c.out.missing, gd.id)
		}
	}
	c.checkValue(value, product)
	return c.out
}

func (c *selectionCheck) fail(check Check, where, format string, args ...any) {
	w := c.where
	if where != "" {
		w += ", " + where
	}
	c.out.problems.addf(check, c.file, w, format, args...)
}

// sharesByGuardian indexes the shares, checking there is exactly one per guardian.
func (c *selectionCheck) sharesByGuardian() map[string]*shareJSON {
	out := map[string]*shareJSON{}
	for i := range c.s.Shares {
		sh := &c.s.Shares[i]
		switch {
		case c.v.e.byID[sh.GuardianID] == nil:
			c.fail(CheckShares, "guardian "+sh.GuardianID, "the share is of an unknown guardian")
		case out[sh.GuardianID] != nil:
			c.fail(CheckShares, "guardian "+sh.GuardianID, "the guardian has two shares")
		default:
			out[sh.GuardianID] = sh
		}
	}
	for _, gd := range c.v.e.guardians {
		if out[gd.id] == nil {
			c.fail(CheckShares, "guardian "+gd.id, "the guardian has no share (neither its own nor reconstructed)")
		}
	}
	if len(out) != len(c.v.e.guardians) {
		return nil
	}
	return out
}

// ownShare checks a share a guardian computed itself and returns M_i.
func (c *selectionCheck) ownShare(gd *guardian, sh *shareJSON) eg.ElementModP {
	e := c.v.e
	where := "guardian " + gd.id
	d := decoder{g: e.g}
	m := d.p("share", sh.Share)
	proof := d.chaumPedersen(*sh.Proof)
	switch {
	case d.err != nil:
		c.fail(CheckShareProof, where, "%v", d.err)
	case !e.g.InSubgroup(m):
		c.fail(CheckSubgroup, where, "the share M_i is not in the order-q subgroup")
	default:
		if err := e.checkChaumPedersen(c.ct, m, gd.key, proof); err != nil {
			c.fail(CheckShareProof, where, "%v", err)
		}
	}
	return m
}

// reconstructedShare checks a missing guardian's share and its parts and returns M_l
// as recorded.
func (c *selectionCheck) reconstructedShare(missing *guardian, sh *shareJSON, shares map[string]*shareJSON) eg.ElementModP {
	g := c.v.e.g
	where := "missing guardian " + missing.id
	d := decoder{g: g}
	recorded := d.p("share", sh.Share)
	if d.err != nil {
		c.fail(CheckRead, where, "%v", d.err)
		return recorded
	}
	var xs []int
	var parts []eg.ElementModP
	for _, id := range sortedKeys(sh.RecoveredParts) {
		p := sh.RecoveredParts[id]
		avail := c.v.e.byID[id]
		pw := fmt.Sprintf("%s, part of guardian %s", where, id)
		switch {
		case avail == nil || p.GuardianID != id:
			c.fail(CheckShares, pw, "the part is filed under guardian %q but made by %q, or that guardian is unknown", id, p.GuardianID)
			continue
		case p.MissingGuardianID != missing.id:
			c.fail(CheckShares, pw, "the part is for guardian %q", p.MissingGuardianID)
			continue
		case shares[id].Proof == nil:
			c.fail(CheckShares, pw, "guardian %s is missing itself, so it cannot compensate", id)
			continue
		}
		m, ok := c.part(pw, missing, avail, p)
		if ok {
			xs, parts = append(xs, avail.x), append(parts, m)
		}
	}
	if len(xs) < c.v.e.quorum {
		c.fail(CheckReconstruction, where, "%d recovered parts; reconstruction needs quorum %d", len(xs), c.v.e.quorum)
		return recorded
	}
	ws, err := lagrange(g, xs)
	if err != nil {
		c.fail(CheckReconstruction, where, "%v", err)
		return recorded
	}
	rebuilt := g.OneP()
	for i, m := range parts {
		rebuilt = g.MulP(rebuilt, g.PowP(m, ws[i]))
	}
	if !rebuilt.Equal(recorded) {
		c.fail(CheckReconstruction, where, "the share is not ∏ M_{l,i}^(w_i) of its %d recovered parts", len(parts))
	}
	return recorded
}

// part checks one compensated share M_{l,i}, its recovery key and its proof, and
// returns it unless it could not be read.
func (c *selectionCheck) part(where string, missing, avail *guardian, p compensatedJSON) (eg.ElementModP, bool) {
	e := c.v.e
	d := decoder{g: e.g}
	m := d.p("share", p.Share)
	rk := d.p("recovery_key", p.RecoveryKey)
	proof := d.chaumPedersen(p.Proof)
	if d.err != nil {
		c.fail(CheckCompensatedProof, where, "%v", d.err)
		return m, false
	}
	key := c.v.recovery.get(missing, avail)
	if !rk.Equal(key.Base()) {
		c.fail(CheckRecoveryKey, where, "recovery_key is not ∏ K_{l,j}^(x^j) of guardian %s's commitments at x = %d", missing.id, avail.x)
	}
	if !e.g.InSubgroup(m) {
		c.fail(CheckSubgroup, where, "the compensated share M_{l,i} is not in the order-q subgroup")
	} else if err := e.checkChaumPedersen(c.ct, m, key, proof); err != nil {
		c.fail(CheckCompensatedProof, where, "%v", err)
	}
	// A part whose proof fails still counts towards the reconstruction, so that its
	// check says whether the recorded share follows from the parts as recorded.
	return m, true
}

// checkValue checks value = B / ∏ M_i and value = g^tally.
func (c *selectionCheck) checkValue(value, product eg.ElementModP) {
	g := c.v.e.g
	if c.s.Tally < 0 {
		c.fail(CheckCount, "", "tally %d is negative", c.s.Tally)
		return
	}
	if want, err := g.DivP(c.ct.data, product); err != nil || !value.Equal(want) {
		c.fail(CheckDecryption, "", "value is not B / ∏ M_i, the ciphertext's data over the guardians' shares")
	}
	if !value.Equal(g.GPow(g.ElementModQFromUint64(uint64(c.s.Tally)))) {
		c.fail(CheckDecryption, "", "value is not g^%d: the tally count %d is not what the shares decrypt", c.s.Tally, c.s.Tally)
	}
}

// checkCoefficients checks coefficients.json holds the Lagrange coefficients of the
// available guardians (those of the first decrypted selection), in any order.
func (v *run) checkCoefficients(available []string) {
	var f coefficientsJSON
	if !readJSON(v.fsys, coefficientsFile, &f, v.ps) {
		return
	}
	g := v.e.g
	d := decoder{g: g}
	var got []eg.ElementModQ
	for i, h := range f.Coefficients {
		got = append(got, d.q(fmt.Sprintf("coefficients[%d]", i), h))
	}
	if d.err != nil {
		v.ps.addf(CheckRead, coefficientsFile, "", "%v", d.err)
		return
	}
	// 1.x lists them in the order the guardians decrypted, which the record does not
	// keep, so they are compared as a set: each available guardian's w_i once.
	xs := make([]int, len(available))
	for i, id := range available {
		xs[i] = v.e.byID[id].x
	}
	want, err := lagrange(g, xs)
	byHex := func(a, b eg.ElementModQ) int { return strings.Compare(a.Hex(), b.Hex()) }
	slices.SortFunc(got, byHex)
	slices.SortFunc(want, byHex)
	if err == nil && slices.EqualFunc(got, want, eg.ElementModQ.Equal) {
		return
	}
	v.ps.addf(CheckCoefficients, coefficientsFile, "", "the %d coefficients are not the Lagrange coefficients w_i = ∏ x_j / (x_j − x_i) of the available guardians %v", len(got), available)
}
