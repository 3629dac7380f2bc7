package record

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/tallyq/tallyq/eg"
)

// SelectionToCombine is one selection of a decryption unit: its ciphertext and every
// guardian's share of it (direct, or a missing guardian's with its recovered parts).
type SelectionToCombine struct {
	ObjectID   string
	Ciphertext eg.Ciphertext
	Shares     []DecryptionShare
	// RebuildMissing has CombineUnit compute each missing guardian's share (the one
	// with recovered parts) from its verified parts and put it in the result, for a
	// caller that holds only the parts; the shares given leave it zero. Without it, the
	// share given must equal that reconstruction.
	RebuildMissing bool
}

// SelectionError is CombineUnit's error: Index is the position of the selection at
// fault in the input, Err says what is wrong (naming the selection and guardian).
type SelectionError struct {
	Index int
	Err   error
}

// Error returns Err's text, which names the selection already.
func (e *SelectionError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *SelectionError) Unwrap() error { return e.Err }

// CombineUnit checks the shares of a decryption unit (a tally's selections, or a
// spoiled ballot's) and decrypts each selection, as Combine does one: it accepts and
// refuses exactly what Combine would, selection by selection. Every Chaum–Pedersen
// proof of the unit (direct shares and recovered parts alike) is verified together in
// batches of eg.MaxBatch (eg.Group.VerifyShareBatch; random weights from crypto/rand, so
// a bad proof passes with probability at most 2·2^−λ per batch), on all CPUs; when a
// batch fails its proofs are checked one by one, so the error names the share or part
// at fault as Combine's does. The error is a *SelectionError. The results are in
// input order.
func (d *Decryptor) CombineUnit(ctx context.Context, sels []SelectionToCombine) ([]*PlaintextTallySelection, error) {
	var proofs proofSet
	checked := make([][]pendingShare, len(sels))
	for i, s := range sels {
		var err error
		if checked[i], err = d.collectSelection(&proofs, i, s); err != nil {
			return nil, &SelectionError{Index: i, Err: err}
		}
	}
	if err := proofs.verify(ctx, d.e.Group, d.e.ExtendedBaseHash); err != nil {
		return nil, err
	}
	out := make([]*PlaintextTallySelection, len(sels))
	err := forEachParallel(ctx, len(sels), func(i int) error {
		var err error
		if out[i], err = d.decryptSelection(sels[i], checked[i]); err != nil {
			return &SelectionError{Index: i, Err: err}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// collectSelection checks what needs no exponentiation in one selection's shares
// (one per guardian, for this selection) and adds their proofs to proofs, whose
// errors are SelectionErrors of index.
func (d *Decryptor) collectSelection(proofs *proofSet, index int, s SelectionToCombine) ([]pendingShare, error) {
	if len(s.Shares) != len(d.guardians) {
		return nil, fmt.Errorf("selection %s: %d shares for %d guardians", s.ObjectID, len(s.Shares), len(d.guardians))
	}
	add := func(item eg.ShareItem, blame func(error) error) {
		proofs.add(item, func(err error) error { return &SelectionError{Index: index, Err: blame(err)} })
	}
	seen := map[string]bool{}
	pending := make([]pendingShare, 0, len(s.Shares))
	for _, sh := range s.Shares {
		if sh.ObjectID != s.ObjectID || seen[sh.GuardianID] {
			return nil, fmt.Errorf("selection %s: share for %q is for %s or repeated", s.ObjectID, sh.GuardianID, sh.ObjectID)
		}
		seen[sh.GuardianID] = true
		p, err := d.collectShare(add, s.ObjectID, s.Ciphertext, sh, s.RebuildMissing)
		if err != nil {
			return nil, err
		}
		pending = append(pending, p)
	}
	return pending, nil
}

// decryptSelection finishes the shares of a selection whose proofs verified and
// decrypts it: g^t = B / ∏ M_i and t by discrete log.
func (d *Decryptor) decryptSelection(s SelectionToCombine, pending []pendingShare) (*PlaintextTallySelection, error) {
	g := d.e.Group
	ms := make([]eg.ElementModP, len(pending))
	shares := s.Shares
	if s.RebuildMissing {
		shares = slices.Clone(shares)
	}
	for i, p := range pending {
		var err error
		if ms[i], err = d.finishShare(s.ObjectID, p); err != nil {
			return nil, err
		}
		if p.rebuild {
			shares[i].Share = HexP(ms[i])
		}
	}
	gt, err := g.CombineShares(s.Ciphertext, ms)
	if err != nil {
		return nil, fmt.Errorf("selection %s: %w", s.ObjectID, err)
	}
	t, err := d.dlog.Log(s.ObjectID, gt)
	if err != nil {
		return nil, err
	}
	return &PlaintextTallySelection{ObjectID: s.ObjectID, Tally: int64(t), Value: HexP(gt), Message: CiphertextOf(s.Ciphertext), Shares: shares}, nil
}

// pendingShare is a guardian's share whose proofs are collected but not yet verified.
type pendingShare struct {
	guardianID string
	m          eg.ElementModP // as given; unset when rebuild
	rebuild    bool           // M_i is to be rebuilt from the parts, not checked
	// For a missing guardian's share: the guardians of its recovered parts and the
	// parts M_{l,i}, which finishShare combines; nil for a direct share.
	partGuardians []string
	parts         []eg.ElementModP
}

// collectShare checks one guardian's share of a selection up to its proofs, which it
// adds with add: a direct share's proof against the guardian's key, or a missing
// guardian's recovered parts (at least quorum, each for this selection and guardian,
// each recovery key recomputed from commitments). With rebuild a missing guardian's
// share is to be rebuilt from its parts, so it must be left zero.
func (d *Decryptor) collectShare(add addProof, objectID string, ct eg.Ciphertext, s DecryptionShare, rebuild bool) (pendingShare, error) {
	g := d.e.Group
	if _, ok := d.byID[s.GuardianID]; !ok {
		return pendingShare{}, fmt.Errorf("selection %s: share from unknown guardian %q", objectID, s.GuardianID)
	}
	out := pendingShare{guardianID: s.GuardianID, rebuild: rebuild && s.RecoveredParts != nil}
	if out.rebuild {
		if !s.Share.Equal(Hex{}) {
			return out, fmt.Errorf("selection %s: missing guardian %q's share is given, though it is to be rebuilt from its parts", objectID, s.GuardianID)
		}
	} else if m, err := s.Share.P(g); err == nil {
		out.m = m
	} else {
		return out, fmt.Errorf("selection %s: guardian %q: share: %w", objectID, s.GuardianID, err)
	}
	switch {
	case s.Proof != nil && s.RecoveredParts == nil:
		blame := func(err error) error {
			return fmt.Errorf("selection %s: guardian %q's share: %w", objectID, s.GuardianID, err)
		}
		item, err := shareItem(g, ct, s.Share, *s.Proof, d.keys[s.GuardianID])
		if err != nil {
			return out, blame(err)
		}
		add(item, blame)
		return out, nil
	case s.Proof == nil && s.RecoveredParts != nil:
		if len(s.RecoveredParts) < d.e.Context.Quorum {
			return out, fmt.Errorf("selection %s: missing guardian %q has %d recovered parts; the quorum is %d", objectID, s.GuardianID, len(s.RecoveredParts), d.e.Context.Quorum)
		}
		for _, p := range s.RecoveredParts {
			if p.ObjectID != objectID || p.MissingGuardianID != s.GuardianID || p.GuardianID == s.GuardianID {
				return out, fmt.Errorf("selection %s: a recovered part of %q's share is for %s, guardian %q, from %q", objectID, s.GuardianID, p.ObjectID, p.MissingGuardianID, p.GuardianID)
			}
			pm, err := d.collectPart(add, objectID, ct, p)
			if err != nil {
				return out, err
			}
			out.partGuardians, out.parts = append(out.partGuardians, p.GuardianID), append(out.parts, pm)
		}
		return out, nil
	}
	return out, fmt.Errorf("selection %s: guardian %q's share has neither exactly a proof nor exactly recovered parts", objectID, s.GuardianID)
}

// collectPart checks one compensated part's recovery key and ranges, adds its proof
// with add and returns M_{l,i}.
func (d *Decryptor) collectPart(add addProof, objectID string, ct eg.Ciphertext, p CompensatedShare) (eg.ElementModP, error) {
	rk, err := d.RecoveryKey(p.MissingGuardianID, p.GuardianID)
	if err != nil {
		return eg.ElementModP{}, fmt.Errorf("selection %s: %w", objectID, err)
	}
	blame := func(err error) error {
		return fmt.Errorf("selection %s: guardian %q's part for %q: %w", objectID, p.GuardianID, p.MissingGuardianID, err)
	}
	if !HexP(rk.Base()).Equal(p.RecoveryKey) {
		return eg.ElementModP{}, blame(errors.New("recovery key is not ∏ K_{l,j}^(x^j) of the missing guardian's commitments"))
	}
	item, err := shareItem(d.e.Group, ct, p.Share, p.Proof, rk)
	if err != nil {
		return eg.ElementModP{}, blame(err)
	}
	add(item, blame)
	return item.Share.Share, nil
}

// finishShare completes a share whose proofs verified and returns M_i: a missing
// guardian's share is ∏ M_{l,i}^w_i of its recovered parts, which the share given
// must equal unless it is to be rebuilt.
func (d *Decryptor) finishShare(objectID string, p pendingShare) (eg.ElementModP, error) {
	if p.parts == nil {
		return p.m, nil
	}
	rebuilt, err := d.reconstruct(p.partGuardians, p.parts)
	if err != nil {
		return rebuilt, fmt.Errorf("selection %s: %w", objectID, err)
	}
	if !p.rebuild && !rebuilt.Equal(p.m) {
		return rebuilt, fmt.Errorf("selection %s: missing guardian %q's share is not the one its recovered parts give", objectID, p.guardianID)
	}
	return rebuilt, nil
}

// proofSet collects Chaum–Pedersen proofs of shares to verify them together, each
// with the error to return if it is the first invalid one.
type proofSet struct {
	items []eg.ShareItem
	blame []func(error) error
}

// addProof adds a proof to verify; blame turns its eg error into the error to return.
type addProof func(item eg.ShareItem, blame func(error) error)

// add is the set's addProof.
func (s *proofSet) add(item eg.ShareItem, blame func(error) error) {
	s.items = append(s.items, item)
	s.blame = append(s.blame, blame)
}

// proofsPerTask is how many proofs one goroutine of proofSet.verify takes at a time:
// two full batches.
const proofsPerTask = 2 * eg.MaxBatch

// verify verifies every proof in batches (eg.Group.VerifyShareBatch), on all CPUs, and
// returns the blame of the first invalid one.
func (s *proofSet) verify(ctx context.Context, g *eg.Group, qbar eg.ElementModQ) error {
	tasks := (len(s.items) + proofsPerTask - 1) / proofsPerTask
	return forEachParallel(ctx, tasks, func(i int) error {
		lo := i * proofsPerTask
		err := g.VerifyShareBatch(s.items[lo:min(lo+proofsPerTask, len(s.items))], qbar)
		var be *eg.BatchError
		if errors.As(err, &be) {
			return s.blame[lo+be.Index](be.Err)
		}
		return err
	})
}
