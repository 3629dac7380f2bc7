package record

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"runtime"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/tallyq/tallyq/eg"
)

// The document type and version of a GuardianShares file.
const (
	GuardianSharesFormat  = "tallyq-guardian-shares"
	GuardianSharesVersion = 1
)

// GuardianShares is what a guardian who keeps its secret key computes on its own machine
// (`tallyq guardian decrypt`) and uploads: its share M_i = A^s_i, with its Chaum–Pedersen
// proof, of every selection of the encrypted tally and of every spoiled ballot (placeholders
// included, as 1.x decrypts them), and, for each guardian named missing, its compensated
// share M_{l,i} = A^P_l(x_i) with the recovery key and proof. It holds nothing secret.
//
// ComputeGuardianShares makes one; DecodeGuardianShares reads one strictly;
// Decryptor.VerifyGuardianShares checks one against the election; Selections yields its
// shares one selection at a time.
type GuardianShares struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// ExtendedBaseHash is the election's Q̄ (crypto_extended_base_hash of context.json),
	// so a file made for another election is refused.
	ExtendedBaseHash Hex    `json:"crypto_extended_base_hash"`
	GuardianID       string `json:"guardian_id"`
	// MissingGuardianIDs are the guardians compensated for, in the order each selection
	// lists its compensated shares.
	MissingGuardianIDs []string       `json:"missing_guardian_ids"`
	Tally              ObjectShares   `json:"tally"`
	SpoiledBallots     []ObjectShares `json:"spoiled_ballots"`
}

// ObjectShares are one guardian's shares of one decrypted object: the encrypted tally
// (ObjectID is its object_id) or a spoiled ballot (ObjectID is the ballot's id).
type ObjectShares struct {
	ObjectID string          `json:"object_id"`
	Contests []ContestShares `json:"contests"`
}

// ContestShares are one guardian's shares of one contest's selections.
type ContestShares struct {
	ObjectID   string            `json:"object_id"`
	Selections []SelectionShares `json:"selections"`
}

// SelectionShares are one guardian's shares of one selection: its own, with a proof, and
// one compensated share per missing guardian, in MissingGuardianIDs order.
type SelectionShares struct {
	ObjectID          string             `json:"object_id"`
	Share             DecryptionShare    `json:"share"`
	CompensatedShares []CompensatedShare `json:"compensated_shares"`
}

// SharePath names the selection a share decrypts.
type SharePath struct {
	// BallotID is the spoiled ballot's object id, or "" for the encrypted tally.
	BallotID    string
	ContestID   string
	SelectionID string
}

// String names the selection as errors do.
func (p SharePath) String() string {
	object := "encrypted tally"
	if p.BallotID != "" {
		object = fmt.Sprintf("spoiled ballot %s", p.BallotID)
	}
	return fmt.Sprintf("%s: contest %s: selection %s", object, p.ContestID, p.SelectionID)
}

// Selections yields every selection's shares with its path: the tally's, then each
// spoiled ballot's, in file order.
func (gs *GuardianShares) Selections() iter.Seq2[SharePath, *SelectionShares] {
	return func(yield func(SharePath, *SelectionShares) bool) {
		objects := func(yield func(string, *ObjectShares) bool) {
			if !yield("", &gs.Tally) {
				return
			}
			for i := range gs.SpoiledBallots {
				if !yield(gs.SpoiledBallots[i].ObjectID, &gs.SpoiledBallots[i]) {
					return
				}
			}
		}
		for ballotID, o := range objects {
			for ci := range o.Contests {
				c := &o.Contests[ci]
				for si := range c.Selections {
					s := &c.Selections[si]
					if !yield(SharePath{BallotID: ballotID, ContestID: c.ObjectID, SelectionID: s.ObjectID}, s) {
						return
					}
				}
			}
		}
	}
}

// DecodeGuardianShares reads a GuardianShares document strictly: at most
// MaxDocumentBytes, one JSON value, no field the format does not define (at any depth,
// matched case-sensitively), no key twice in an object, and the known format and version.
// It does not check the shares: VerifyGuardianShares does.
func DecodeGuardianShares(r io.Reader) (*GuardianShares, error) {
	data, err := readDocument(r)
	if err != nil {
		return nil, fmt.Errorf("guardian shares: %w", err)
	}
	var gs GuardianShares
	if err := unmarshal(data, &gs); err != nil {
		return nil, fmt.Errorf("guardian shares: %w", err)
	}
	if err := checkKnownFields(data, &gs); err != nil {
		return nil, fmt.Errorf("guardian shares: %w", err)
	}
	if err := gs.checkFormat(); err != nil {
		return nil, err
	}
	return &gs, nil
}

// checkFormat checks the document type and version.
func (gs *GuardianShares) checkFormat() error {
	if gs.Format != GuardianSharesFormat || gs.Version != GuardianSharesVersion {
		return fmt.Errorf("guardian shares: format %q version %d; want %q version %d", gs.Format, gs.Version, GuardianSharesFormat, GuardianSharesVersion)
	}
	return nil
}

// checkKnownFields compares data with v (decoded from it) encoded again: a key of data
// that the encoding lacks is a field v has no place for, which encoding/json would
// silently drop or match case-insensitively.
func checkKnownFields(data []byte, v any) error {
	canonical, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var tree any
	if err := json.Unmarshal(canonical, &tree); err != nil {
		return err
	}
	return walkKnown(json.NewDecoder(bytes.NewReader(data)), tree, "$")
}

// walkKnown reads one value from dec, checking each object's keys against want's.
// Decoding v succeeded, so the input's depth is that of v's types.
func walkKnown(dec *json.Decoder, want any, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		fields, _ := want.(map[string]any)
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := tok.(string)
			sub, ok := fields[key]
			switch {
			case seen[key]:
				return fmt.Errorf("%s: field %q appears twice", path, key)
			case !ok:
				return fmt.Errorf("%s: unknown field %q", path, key)
			}
			seen[key] = true
			if err := walkKnown(dec, sub, path+"."+key); err != nil {
				return err
			}
		}
	case json.Delim('['):
		items, _ := want.([]any)
		for i := 0; dec.More(); i++ {
			var sub any
			if i < len(items) {
				sub = items[i]
			}
			if err := walkKnown(dec, sub, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	default:
		return nil
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

// ComputeGuardianShares computes the shares of the guardian whose private record p is:
// of every selection of the tally and of every spoiled ballot spoiled yields (ballots in
// other states are skipped), and the compensated shares for each guardian in missing,
// opening p's backups from them. It checks first that p's secret key is the guardian's
// key in the election. The work runs on all CPUs.
func ComputeGuardianShares(ctx context.Context, d *Decryptor, p *PrivateGuardian, tally *CiphertextTally, spoiled iter.Seq2[*SubmittedBallot, error], missing []string) (*GuardianShares, error) {
	g := d.e.Group
	t, err := d.trusteeOf(p, missing)
	if err != nil {
		return nil, err
	}
	gs := &GuardianShares{Format: GuardianSharesFormat, Version: GuardianSharesVersion, ExtendedBaseHash: HexQ(d.e.ExtendedBaseHash),
		GuardianID: p.GuardianID, MissingGuardianIDs: append([]string{}, missing...), Tally: ObjectShares{ObjectID: tally.ObjectID}}
	tallyCts, err := tally.Ciphertexts(g)
	if err != nil {
		return nil, err
	}
	ballotIDs, ballotCts, err := spoiledCiphertexts(g, spoiled)
	if err != nil {
		return nil, err
	}
	gs.SpoiledBallots = make([]ObjectShares, len(ballotIDs))
	for i, id := range ballotIDs {
		gs.SpoiledBallots[i].ObjectID = id
	}
	// The slices are final now, so tasks may point into them.
	tasks := layOut(nil, &gs.Tally, tallyCts)
	for i, cts := range ballotCts {
		tasks = layOut(tasks, &gs.SpoiledBallots[i], cts)
	}
	err = forEachParallel(ctx, len(tasks), func(i int) error {
		return d.computeSelection(tasks[i].out, tasks[i].ct, t, missing)
	})
	if err != nil {
		return nil, err
	}
	return gs, nil
}

// trusteeOf opens p's secret key and its backups from the missing guardians, checking
// that they are the election's guardians and the key is p's guardian's key in it.
func (d *Decryptor) trusteeOf(p *PrivateGuardian, missing []string) (*Trustee, error) {
	pub, err := d.checkShareholders(p.GuardianID, missing)
	if err != nil {
		return nil, err
	}
	if p.ElectionKeys.SequenceOrder != pub.SequenceOrder {
		return nil, fmt.Errorf("guardian %q: the private record's sequence order %d is not the election's %d", p.GuardianID, p.ElectionKeys.SequenceOrder, pub.SequenceOrder)
	}
	t, err := d.NewTrustee(p, missing)
	if err != nil {
		return nil, err
	}
	if !d.e.Group.GPow(t.Secret).Equal(pub.Key) {
		return nil, fmt.Errorf("guardian %q: the private record's key is not this guardian's public key in the election record; is the private record for another election?", p.GuardianID)
	}
	return t, nil
}

// spoiledCiphertexts returns the ids and ciphertexts of the spoiled ballots among ballots.
func spoiledCiphertexts(g *eg.Group, ballots iter.Seq2[*SubmittedBallot, error]) ([]string, [][]ContestCiphertexts, error) {
	var ids []string
	var cts [][]ContestCiphertexts
	for b, err := range ballots {
		if err != nil {
			return nil, nil, fmt.Errorf("spoiled ballots: %w", err)
		}
		if b.State != BallotSpoiled {
			continue
		}
		c, err := b.Ciphertexts(g)
		if err != nil {
			return nil, nil, err
		}
		ids, cts = append(ids, b.ObjectID), append(cts, c)
	}
	return ids, cts, nil
}

// shareTask is one selection whose shares are to be computed into out.
type shareTask struct {
	out *SelectionShares
	ct  eg.Ciphertext
}

// layOut gives o a contest and selection for each ciphertext and appends a task for each
// selection.
func layOut(tasks []shareTask, o *ObjectShares, cts []ContestCiphertexts) []shareTask {
	o.Contests = make([]ContestShares, len(cts))
	for ci, c := range cts {
		o.Contests[ci] = ContestShares{ObjectID: c.ObjectID, Selections: make([]SelectionShares, len(c.Selections))}
		for si, s := range c.Selections {
			out := &o.Contests[ci].Selections[si]
			out.ObjectID = s.ObjectID
			tasks = append(tasks, shareTask{out: out, ct: s.Ciphertext})
		}
	}
	return tasks
}

// computeSelection computes the trustee's share of one selection and its compensated
// shares for the missing guardians.
func (d *Decryptor) computeSelection(out *SelectionShares, ct eg.Ciphertext, t *Trustee, missing []string) error {
	out.Share = d.Share(out.ObjectID, t.ID, ct, t.Secret)
	out.CompensatedShares = make([]CompensatedShare, len(missing))
	for k, id := range missing {
		part, err := d.Compensate(out.ObjectID, t.ID, id, ct, t.Backups[id])
		if err != nil {
			return err
		}
		out.CompensatedShares[k] = part
	}
	return nil
}

// parallelChunk is how many items one goroutine of forEachParallel takes at a time:
// enough to amortise scheduling, few enough to spread small inputs over the CPUs.
const parallelChunk = 4

// forEachParallel runs f(0) … f(n-1) on GOMAXPROCS goroutines and returns the error of
// the lowest failing index, or ctx's error once it is done.
func forEachParallel(ctx context.Context, n int, f func(i int) error) error {
	errs := make([]error, n)
	var group errgroup.Group
	group.SetLimit(runtime.GOMAXPROCS(0))
	for lo := 0; lo < n; lo += parallelChunk {
		if err := ctx.Err(); err != nil {
			_ = group.Wait()
			return err
		}
		group.Go(func() error {
			for i := lo; i < min(lo+parallelChunk, n); i++ {
				errs[i] = f(i)
			}
			return nil
		})
	}
	_ = group.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// checkShareholders checks that guardianID and the missing guardians are distinct
// guardians of the election and returns guardianID's keys.
func (d *Decryptor) checkShareholders(guardianID string, missing []string) (*GuardianPublicKeys, error) {
	pub, ok := d.byID[guardianID]
	if !ok {
		return nil, fmt.Errorf("guardian %q is not a guardian of this election", guardianID)
	}
	for i, id := range missing {
		switch {
		case id == guardianID:
			return nil, fmt.Errorf("guardian %q names itself missing", guardianID)
		case d.byID[id] == nil:
			return nil, fmt.Errorf("guardian %q: missing guardian %q is not a guardian of this election", guardianID, id)
		case slices.Contains(missing[:i], id):
			return nil, fmt.Errorf("guardian %q: missing guardian %q is named twice", guardianID, id)
		}
	}
	return pub, nil
}

// VerifyGuardianShares checks an uploaded GuardianShares against this election, its
// encrypted tally and the spoiled ballots spoiled yields (ballots in other states are
// skipped): the file is for this election (Q̄) and one of its guardians; the missing
// guardians are other guardians of it, each named once; every selection of the tally
// and of each spoiled ballot has exactly one entry, and nothing else does; each entry
// holds the guardian's own share with a proof and one compensated share per missing
// guardian, in order, with the recovery key computed from that guardian's commitments;
// and every proof verifies (in batches of eg.MaxBatch, on all CPUs). Errors name the
// guardian, the selection and what is wrong. The file's size bounds the work: ballots
// are read one at a time and only those the file has shares of are kept.
func (d *Decryptor) VerifyGuardianShares(ctx context.Context, gs *GuardianShares, tally *CiphertextTally, spoiled iter.Seq2[*SubmittedBallot, error]) error {
	v, err := d.newShareVerifier(gs)
	if err != nil {
		return err
	}
	if gs.Tally.ObjectID != tally.ObjectID {
		return fmt.Errorf("guardian %q: shares of tally %q, not of the encrypted tally %q", gs.GuardianID, gs.Tally.ObjectID, tally.ObjectID)
	}
	cts, err := tally.Ciphertexts(d.e.Group)
	if err != nil {
		return err
	}
	if err := v.object("", &gs.Tally, cts); err != nil {
		return err
	}
	ballots := map[string]*ObjectShares{}
	for i := range gs.SpoiledBallots {
		o := &gs.SpoiledBallots[i]
		if ballots[o.ObjectID] != nil {
			return fmt.Errorf("guardian %q: spoiled ballot %s appears twice", gs.GuardianID, o.ObjectID)
		}
		ballots[o.ObjectID] = o
	}
	for b, err := range spoiled {
		if err != nil {
			return fmt.Errorf("spoiled ballots: %w", err)
		}
		if b.State != BallotSpoiled {
			continue
		}
		o, ok := ballots[b.ObjectID]
		if !ok {
			return fmt.Errorf("guardian %q: spoiled ballot %s has no shares (or is given twice)", gs.GuardianID, b.ObjectID)
		}
		delete(ballots, b.ObjectID)
		cts, err := b.Ciphertexts(d.e.Group)
		if err != nil {
			return err
		}
		if err := v.object(b.ObjectID, o, cts); err != nil {
			return err
		}
	}
	for _, o := range gs.SpoiledBallots {
		if ballots[o.ObjectID] != nil {
			return fmt.Errorf("guardian %q: shares of ballot %s, which is not a spoiled ballot of this election", gs.GuardianID, o.ObjectID)
		}
	}
	return v.verifyProofs(ctx)
}

// shareVerifier collects the proofs of one GuardianShares to verify them in batches.
type shareVerifier struct {
	d        *Decryptor
	gs       *GuardianShares
	recovery []*eg.FixedBase // per missing guardian, in MissingGuardianIDs order
	proofs   proofSet
}

// newShareVerifier checks the file's header against the election.
func (d *Decryptor) newShareVerifier(gs *GuardianShares) (*shareVerifier, error) {
	if err := gs.checkFormat(); err != nil {
		return nil, fmt.Errorf("guardian %q: %w", gs.GuardianID, err)
	}
	if !gs.ExtendedBaseHash.Equal(HexQ(d.e.ExtendedBaseHash)) {
		return nil, fmt.Errorf("guardian %q: the shares are for the election with extended base hash %s, not this one (%s)", gs.GuardianID, gs.ExtendedBaseHash, d.e.ExtendedBaseHash.Hex())
	}
	if _, err := d.checkShareholders(gs.GuardianID, gs.MissingGuardianIDs); err != nil {
		return nil, err
	}
	v := &shareVerifier{d: d, gs: gs}
	for _, id := range gs.MissingGuardianIDs {
		rk, err := d.RecoveryKey(id, gs.GuardianID)
		if err != nil {
			return nil, err
		}
		v.recovery = append(v.recovery, rk)
	}
	return v, nil
}

// errorf is an error naming the guardian and the selection.
func (v *shareVerifier) errorf(path SharePath, format string, args ...any) error {
	return fmt.Errorf("guardian %q: %s: %w", v.gs.GuardianID, path, fmt.Errorf(format, args...))
}

// object checks that o has exactly one entry per ciphertext and collects their proofs.
func (v *shareVerifier) object(ballotID string, o *ObjectShares, cts []ContestCiphertexts) error {
	index := map[[2]string]*SelectionShares{}
	for ci := range o.Contests {
		c := &o.Contests[ci]
		for si := range c.Selections {
			key := [2]string{c.ObjectID, c.Selections[si].ObjectID}
			if index[key] != nil {
				return v.errorf(SharePath{ballotID, key[0], key[1]}, "appears twice")
			}
			index[key] = &c.Selections[si]
		}
	}
	for _, c := range cts {
		for _, s := range c.Selections {
			path := SharePath{ballotID, c.ObjectID, s.ObjectID}
			sel, ok := index[[2]string{c.ObjectID, s.ObjectID}]
			if !ok {
				return v.errorf(path, "no share: the file lacks this selection")
			}
			delete(index, [2]string{c.ObjectID, s.ObjectID})
			if err := v.selection(path, sel, s.Ciphertext); err != nil {
				return err
			}
		}
	}
	// What is left is not decrypted; name the first in file order.
	for _, c := range o.Contests {
		for _, s := range c.Selections {
			if index[[2]string{c.ObjectID, s.ObjectID}] != nil {
				return v.errorf(SharePath{ballotID, c.ObjectID, s.ObjectID}, "no such selection among the ciphertexts decrypted")
			}
		}
	}
	return nil
}

// selection checks one entry's ids, recovery keys and ranges and collects its proofs.
func (v *shareVerifier) selection(path SharePath, sel *SelectionShares, ct eg.Ciphertext) error {
	g, gid := v.d.e.Group, v.gs.GuardianID
	s := sel.Share
	switch {
	case s.ObjectID != sel.ObjectID || s.GuardianID != gid:
		return v.errorf(path, "the share is for selection %s from guardian %q", s.ObjectID, s.GuardianID)
	case s.Proof == nil || s.RecoveredParts != nil:
		return v.errorf(path, "the share has no proof or has recovered parts; a guardian's own share carries its proof")
	}
	item, err := shareItem(g, ct, s.Share, *s.Proof, v.d.keys[gid])
	if err != nil {
		return v.errorf(path, "share: %w", err)
	}
	v.proofs.add(item, func(err error) error { return v.errorf(path, "share proof: %w", err) })
	if len(sel.CompensatedShares) != len(v.gs.MissingGuardianIDs) {
		return v.errorf(path, "%d compensated shares for %d missing guardians", len(sel.CompensatedShares), len(v.gs.MissingGuardianIDs))
	}
	for k, p := range sel.CompensatedShares {
		missing := v.gs.MissingGuardianIDs[k]
		switch {
		case p.ObjectID != sel.ObjectID || p.GuardianID != gid || p.MissingGuardianID != missing:
			return v.errorf(path, "compensated share %d is for selection %s, from %q for %q; want from %q for %q (missing_guardian_ids order)",
				k, p.ObjectID, p.GuardianID, p.MissingGuardianID, gid, missing)
		case !p.RecoveryKey.Equal(HexP(v.recovery[k].Base())):
			return v.errorf(path, "compensated share for %q: the recovery key is not ∏ K_{l,j}^(x^j) of that guardian's commitments", missing)
		}
		item, err := shareItem(g, ct, p.Share, p.Proof, v.recovery[k])
		if err != nil {
			return v.errorf(path, "compensated share for %q: %w", missing, err)
		}
		v.proofs.add(item, func(err error) error { return v.errorf(path, "compensated share for %q: proof: %w", missing, err) })
	}
	return nil
}

// shareItem converts a share and its proof to group elements, checking ranges.
func shareItem(g *eg.Group, ct eg.Ciphertext, share Hex, proof ChaumPedersenProof, key *eg.FixedBase) (eg.ShareItem, error) {
	m, err := share.P(g)
	if err != nil {
		return eg.ShareItem{}, err
	}
	p, err := proof.Elements(g)
	if err != nil {
		return eg.ShareItem{}, fmt.Errorf("proof: %w", err)
	}
	return eg.ShareItem{Ciphertext: ct, Share: eg.DecryptionShare{Share: m, Proof: p}, PublicKey: key}, nil
}

// verifyProofs verifies the collected proofs, batches in parallel, and names the first
// that fails.
func (v *shareVerifier) verifyProofs(ctx context.Context) error {
	return v.proofs.verify(ctx, v.d.e.Group, v.d.e.ExtendedBaseHash)
}
