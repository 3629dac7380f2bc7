package record

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/tallyq/tallyq/eg"
)

// The crypto hashes below follow electionguard-python 1.x's manifest.py field for field
// (order, which fields are left out, None and empty lists as "null"); they are checked
// against the manifest hashes of the 0.95 sample records.

// CryptoHash is H(annotation, value).
func (a AnnotatedString) CryptoHash(g *eg.Group) eg.ElementModQ { return g.Hash(a.Annotation, a.Value) }

// CryptoHash is H(value, language).
func (l Language) CryptoHash(g *eg.Group) eg.ElementModQ { return g.Hash(l.Value, l.Language) }

// CryptoHash is H(text) (the list hashed as one item).
func (t InternationalizedText) CryptoHash(g *eg.Group) eg.ElementModQ { return g.Hash(t.Text) }

// CryptoHash is H(name, address_line, email, phone).
func (c ContactInformation) CryptoHash(g *eg.Group) eg.ElementModQ {
	return g.Hash(c.Name, c.AddressLine, c.Email, c.Phone)
}

// CryptoHash is H(object_id, name, type, contact_information).
func (u GeopoliticalUnit) CryptoHash(g *eg.Group) eg.ElementModQ {
	return g.Hash(u.ObjectID, u.Name, string(u.Type), u.ContactInformation)
}

// CryptoHash is H(object_id, name, abbreviation, color, logo_uri).
func (p Party) CryptoHash(g *eg.Group) eg.ElementModQ {
	return g.Hash(p.ObjectID, p.Name, p.Abbreviation, p.Color, p.LogoURI)
}

// CryptoHash is H(object_id, name, party_id, image_uri): 1.x leaves is_write_in out.
func (c Candidate) CryptoHash(g *eg.Group) eg.ElementModQ {
	return g.Hash(c.ObjectID, c.Name, c.PartyID, c.ImageURI)
}

// CryptoHash is H(object_id, sequence_order, candidate_id).
func (s SelectionDescription) CryptoHash(g *eg.Group) eg.ElementModQ {
	return g.Hash(s.ObjectID, s.SequenceOrder, s.CandidateID)
}

// CryptoHash is H(object_id, sequence_order, electoral_district_id, vote_variation,
// ballot_title, ballot_subtitle, name, number_elected, votes_allowed, ballot_selections):
// placeholders are not part of it.
func (c ContestDescription) CryptoHash(g *eg.Group) eg.ElementModQ {
	return g.Hash(c.ObjectID, c.SequenceOrder, c.ElectoralDistrictID, string(c.VoteVariation),
		c.BallotTitle, c.BallotSubtitle, c.Name, c.NumberElected, c.VotesAllowed, c.BallotSelections)
}

// CryptoHash is H(object_id, geopolitical_unit_ids, party_ids, image_uri).
func (s BallotStyle) CryptoHash(g *eg.Group) eg.ElementModQ {
	return g.Hash(s.ObjectID, s.GeopoliticalUnitIDs, s.PartyIDs, s.ImageURI)
}

// CryptoHash is the manifest hash: H(election_scope_id, type, start_date, end_date, name,
// contact_information, geopolitical_units, parties, contests, ballot_styles), dates in
// UTC as "YYYY-MM-DDTHH:MM:SSZ". 1.x leaves spec_version and candidates out. A date that
// does not parse is hashed as written (Manifest.Validate reports it).
func (m Manifest) CryptoHash(g *eg.Group) eg.ElementModQ {
	start, err := hashDate(m.StartDate)
	if err != nil {
		start = m.StartDate
	}
	end, err := hashDate(m.EndDate)
	if err != nil {
		end = m.EndDate
	}
	return g.Hash(m.ElectionScopeID, string(m.Type), start, end, m.Name, m.ContactInformation,
		m.GeopoliticalUnits, m.Parties, m.Contests, m.BallotStyles)
}

// CommitmentHash is the context's commitment_hash: H([K_{i,j} for each guardian i in
// order, for each coefficient j]) — one list, hashed as one item, as 1.x's
// combine_election_public_keys does.
func CommitmentHash(g *eg.Group, commitments [][]eg.ElementModP) eg.ElementModQ {
	var flat []eg.ElementModP
	for _, cs := range commitments {
		flat = append(flat, cs...)
	}
	return g.Hash(flat)
}

// CryptoBaseHash is H(p, q, g, n, k, manifest hash), p, q and g in 1.x's hex.
func CryptoBaseHash(g *eg.Group, numberOfGuardians, quorum int, manifestHash eg.ElementModQ) eg.ElementModQ {
	return g.Hash(HexFromBig(g.P()).String(), HexFromBig(g.Q()).String(), HexFromBig(g.G()).String(),
		numberOfGuardians, quorum, manifestHash)
}

// ExtendedBaseHash is Q̄ = H(base hash, commitment hash).
func ExtendedBaseHash(g *eg.Group, baseHash, commitmentHash eg.ElementModQ) eg.ElementModQ {
	return g.Hash(baseHash, commitmentHash)
}

// CryptoHash is H(device_id, session_id, launch_code, location), the first ballot's code seed.
func (d EncryptionDevice) CryptoHash(g *eg.Group) eg.ElementModQ {
	return g.Hash(d.DeviceID, d.SessionID, d.LaunchCode, d.Location)
}

// selectionHash is a ballot selection's crypto_hash: H(object_id, description hash, H(α, β)).
func selectionHash(g *eg.Group, objectID string, descriptionHash eg.ElementModQ, ct eg.Ciphertext) eg.ElementModQ {
	return g.Hash(objectID, descriptionHash, ct.CryptoHash(g))
}

// contestHash is a ballot contest's crypto_hash: H(object_id, description hash, selection hashes...).
func contestHash(g *eg.Group, objectID string, descriptionHash eg.ElementModQ, selectionHashes []eg.ElementModQ) eg.ElementModQ {
	items := []any{objectID, descriptionHash}
	for _, h := range selectionHashes {
		items = append(items, h)
	}
	return g.Hash(items...)
}

// sequenced is a crypto hash with the sequence order of its object: 1.x hashes a
// contest's selections and a ballot's contests sorted by sequence order
// (sequence_order_sort), whatever their order in the record.
type sequenced struct {
	order int
	hash  eg.ElementModQ
}

// inSequence returns the hashes sorted by sequence order (stably).
func inSequence(hs []sequenced) []eg.ElementModQ {
	slices.SortStableFunc(hs, func(a, b sequenced) int { return cmp.Compare(a.order, b.order) })
	out := make([]eg.ElementModQ, len(hs))
	for i, h := range hs {
		out[i] = h.hash
	}
	return out
}

// ballotHash is a ballot's crypto_hash: H(object_id, manifest hash, contest hashes...).
func ballotHash(g *eg.Group, objectID string, manifestHash eg.ElementModQ, contestHashes []eg.ElementModQ) eg.ElementModQ {
	return contestHash(g, objectID, manifestHash, contestHashes)
}

// BallotCode is a ballot's tracking code H(code seed, timestamp, crypto_hash); the code
// seed is the previous ballot's code, or the device's hash for the first.
func BallotCode(g *eg.Group, codeSeed eg.ElementModQ, timestamp int64, cryptoHash eg.ElementModQ) eg.ElementModQ {
	return g.Hash(codeSeed, timestamp, cryptoHash)
}

// P converts the value to an element mod p of g, checking its range.
func (h Hex) P(g *eg.Group) (eg.ElementModP, error) { return g.ElementModPFromBig(h.Big()) }

// Q converts the value to an element mod q of g, checking its range.
func (h Hex) Q(g *eg.Group) (eg.ElementModQ, error) { return g.ElementModQFromBig(h.Big()) }

// HexP is the record form of an element mod p.
func HexP(x eg.ElementModP) Hex { return Hex{n: x.Big()} }

// HexQ is the record form of an element mod q.
func HexQ(x eg.ElementModQ) Hex { return Hex{n: x.Big()} }

// Elements converts the ciphertext to g's elements, checking ranges.
func (c Ciphertext) Elements(g *eg.Group) (eg.Ciphertext, error) {
	pad, err := c.Pad.P(g)
	if err != nil {
		return eg.Ciphertext{}, fmt.Errorf("pad: %w", err)
	}
	data, err := c.Data.P(g)
	if err != nil {
		return eg.Ciphertext{}, fmt.Errorf("data: %w", err)
	}
	return eg.Ciphertext{Pad: pad, Data: data}, nil
}

// CiphertextOf is the record form of a ciphertext.
func CiphertextOf(c eg.Ciphertext) Ciphertext {
	return Ciphertext{Pad: HexP(c.Pad), Data: HexP(c.Data)}
}
