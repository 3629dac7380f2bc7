package record

import (
	"fmt"

	"github.com/tallyq/tallyq/eg"
)

// ContestCiphertexts is what is decrypted of one contest: a tally's or a spoiled
// ballot's selections.
type ContestCiphertexts struct {
	ObjectID   string
	Selections []SelectionCiphertext
}

// SelectionCiphertext is one selection's ciphertext.
type SelectionCiphertext struct {
	ObjectID   string
	Ciphertext eg.Ciphertext
}

// Ciphertexts returns the tally's ciphertexts, checking ranges.
func (t *CiphertextTally) Ciphertexts(g *eg.Group) ([]ContestCiphertexts, error) {
	var out []ContestCiphertexts
	for _, c := range t.Contests {
		cc := ContestCiphertexts{ObjectID: c.ObjectID}
		for _, s := range c.Selections {
			ct, err := s.Ciphertext.Elements(g)
			if err != nil {
				return nil, fmt.Errorf("encrypted tally: contest %s: selection %s: %w", c.ObjectID, s.ObjectID, err)
			}
			cc.Selections = append(cc.Selections, SelectionCiphertext{s.ObjectID, ct})
		}
		out = append(out, cc)
	}
	return out, nil
}

// Ciphertexts returns the ballot's ciphertexts, placeholders included (1.x decrypts a
// spoiled ballot's placeholders too), checking ranges.
func (b *SubmittedBallot) Ciphertexts(g *eg.Group) ([]ContestCiphertexts, error) {
	var out []ContestCiphertexts
	for _, c := range b.Contests {
		cc := ContestCiphertexts{ObjectID: c.ObjectID}
		for _, s := range c.BallotSelections {
			ct, err := s.Ciphertext.Elements(g)
			if err != nil {
				return nil, fmt.Errorf("ballot %s: contest %s: selection %s: %w", b.ObjectID, c.ObjectID, s.ObjectID, err)
			}
			cc.Selections = append(cc.Selections, SelectionCiphertext{s.ObjectID, ct})
		}
		out = append(out, cc)
	}
	return out, nil
}

// Trustee is an available guardian's decryption material: its secret key and the
// backups P_l(x_i) it holds for the missing guardians (by missing guardian id).
type Trustee struct {
	ID      string
	Secret  eg.ElementModQ
	Backups map[string]eg.ElementModQ
}

// String redacts the trustee's secrets.
func (t Trustee) String() string { return fmt.Sprintf("Trustee{%s, secrets: %s}", t.ID, redacted) }

// GoString redacts the trustee's secrets.
func (t Trustee) GoString() string { return t.String() }

// Format redacts the trustee's secrets for every verb.
func (t Trustee) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(t.String())) }

// NewTrustee reads an available guardian's secret key and opens its backups from the
// missing guardians (each decrypted and checked against the sender's commitments).
func (d *Decryptor) NewTrustee(p *PrivateGuardian, missing []string) (*Trustee, error) {
	s, err := p.SecretKey(d.e.Group)
	if err != nil {
		return nil, err
	}
	t := &Trustee{ID: p.GuardianID, Secret: s, Backups: map[string]eg.ElementModQ{}}
	for _, id := range missing {
		l, ok := d.byID[id]
		if !ok {
			return nil, fmt.Errorf("missing guardian %q is unknown", id)
		}
		if t.Backups[id], err = p.BackupFor(d.e.Group, l); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Decrypt decrypts contests with the available guardians (at least the quorum; every
// other guardian of the election is missing and compensated for) and returns the
// plaintext with every share, as tally.json or a spoiled ballot records it. Each share
// is checked as Combine checks it.
func (d *Decryptor) Decrypt(objectID string, contests []ContestCiphertexts, available []*Trustee) (*PlaintextTally, error) {
	byID := map[string]*Trustee{}
	for _, t := range available {
		if _, ok := d.byID[t.ID]; !ok || byID[t.ID] != nil {
			return nil, fmt.Errorf("available guardian %q is unknown or repeated", t.ID)
		}
		byID[t.ID] = t
	}
	if len(byID) < d.e.Context.Quorum {
		return nil, fmt.Errorf("%d guardians available; the quorum is %d", len(byID), d.e.Context.Quorum)
	}
	out := &PlaintextTally{ObjectID: objectID, Contests: Keyed[PlaintextTallyContest]{}}
	for _, c := range contests {
		pc := PlaintextTallyContest{ObjectID: c.ObjectID, Selections: Keyed[PlaintextTallySelection]{}}
		for _, s := range c.Selections {
			shares, err := d.shares(s, available, byID)
			if err != nil {
				return nil, err
			}
			sel, err := d.Combine(s.ObjectID, s.Ciphertext, shares)
			if err != nil {
				return nil, err
			}
			pc.Selections = append(pc.Selections, *sel)
		}
		out.Contests = append(out.Contests, pc)
	}
	return out, nil
}

// shares makes every guardian's share of one selection, in guardian order.
func (d *Decryptor) shares(s SelectionCiphertext, available []*Trustee, byID map[string]*Trustee) ([]DecryptionShare, error) {
	var shares []DecryptionShare
	for _, k := range d.guardians {
		if t, ok := byID[k.ID]; ok {
			shares = append(shares, d.Share(s.ObjectID, t.ID, s.Ciphertext, t.Secret))
			continue
		}
		var parts []CompensatedShare
		for _, t := range available {
			backup, ok := t.Backups[k.ID]
			if !ok {
				return nil, fmt.Errorf("guardian %q holds no backup for missing guardian %q", t.ID, k.ID)
			}
			part, err := d.Compensate(s.ObjectID, t.ID, k.ID, s.Ciphertext, backup)
			if err != nil {
				return nil, err
			}
			parts = append(parts, part)
		}
		share, err := d.Reconstruct(s.ObjectID, k.ID, parts)
		if err != nil {
			return nil, err
		}
		shares = append(shares, share)
	}
	return shares, nil
}
