package verify

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/tallyq/tallyq/eg"
)

// The manifest as electionguard-python 1.x's manifest.py hashes it: each description's
// crypto hash lists its fields in python's order, an absent value or empty list hashes
// as "null", a list as the hash of its items, and enums by name (equal to their values
// in 1.x). Only the fields a hash or a check needs are decoded.

type manifestJSON struct {
	ElectionScopeID    string            `json:"election_scope_id"`
	Type               string            `json:"type"`
	StartDate          string            `json:"start_date"`
	EndDate            string            `json:"end_date"`
	GeopoliticalUnits  []unitJSON        `json:"geopolitical_units"`
	Parties            []partyJSON       `json:"parties"`
	Contests           []contestJSON     `json:"contests"`
	BallotStyles       []ballotStyleJSON `json:"ballot_styles"`
	Name               *textJSON         `json:"name"`
	ContactInformation *contactJSON      `json:"contact_information"`
}

// textJSON is python's InternationalizedText: H(text).
type textJSON struct {
	Text []languageJSON `json:"text"`
}

func (t textJSON) CryptoHash(g *eg.Group) eg.ElementModQ { return g.Hash(t.Text) }

// languageJSON is H(value, language); language defaults to "en".
type languageJSON struct {
	Value    string `json:"value"`
	Language string `json:"language"`
}

func (l languageJSON) CryptoHash(g *eg.Group) eg.ElementModQ { return g.Hash(l.Value, l.Language) }

func (l *languageJSON) UnmarshalJSON(b []byte) error {
	type plain languageJSON
	v := plain{Language: "en"}
	err := json.Unmarshal(b, &v)
	*l = languageJSON(v)
	return err
}

// annotatedJSON is H(annotation, value).
type annotatedJSON struct {
	Annotation string `json:"annotation"`
	Value      string `json:"value"`
}

func (a annotatedJSON) CryptoHash(g *eg.Group) eg.ElementModQ { return g.Hash(a.Annotation, a.Value) }

// contactJSON is H(name, address_line, email, phone).
type contactJSON struct {
	AddressLine []string        `json:"address_line"`
	Email       []annotatedJSON `json:"email"`
	Phone       []annotatedJSON `json:"phone"`
	Name        *string         `json:"name"`
}

func (c contactJSON) CryptoHash(g *eg.Group) eg.ElementModQ {
	return g.Hash(c.Name, c.AddressLine, c.Email, c.Phone)
}

// unitJSON is a geopolitical unit: H(object_id, name, type, contact_information).
type unitJSON struct {
	ObjectID           string       `json:"object_id"`
	Name               string       `json:"name"`
	Type               string       `json:"type"`
	ContactInformation *contactJSON `json:"contact_information"`
}

func (u unitJSON) CryptoHash(g *eg.Group) eg.ElementModQ {
	return g.Hash(u.ObjectID, u.Name, u.Type, u.ContactInformation)
}

// partyJSON is H(object_id, name, abbreviation, color, logo_uri); an absent name is
// empty text.
type partyJSON struct {
	ObjectID     string    `json:"object_id"`
	Name         *textJSON `json:"name"`
	Abbreviation *string   `json:"abbreviation"`
	Color        *string   `json:"color"`
	LogoURI      *string   `json:"logo_uri"`
}

func (p partyJSON) CryptoHash(g *eg.Group) eg.ElementModQ {
	return g.Hash(p.ObjectID, p.Name, p.Abbreviation, p.Color, p.LogoURI)
}

func (p *partyJSON) UnmarshalJSON(b []byte) error {
	type plain partyJSON
	v := plain{Name: &textJSON{}}
	err := json.Unmarshal(b, &v)
	*p = partyJSON(v)
	return err
}

// selectionDescJSON is H(object_id, sequence_order, candidate_id).
type selectionDescJSON struct {
	ObjectID      string `json:"object_id"`
	SequenceOrder int    `json:"sequence_order"`
	CandidateID   string `json:"candidate_id"`
}

func (s selectionDescJSON) CryptoHash(g *eg.Group) eg.ElementModQ {
	return g.Hash(s.ObjectID, s.SequenceOrder, s.CandidateID)
}

// contestJSON is H(object_id, sequence_order, electoral_district_id, vote_variation,
// ballot_title, ballot_subtitle, name, number_elected, votes_allowed, ballot_selections).
type contestJSON struct {
	ObjectID            string              `json:"object_id"`
	SequenceOrder       int                 `json:"sequence_order"`
	ElectoralDistrictID string              `json:"electoral_district_id"`
	VoteVariation       string              `json:"vote_variation"`
	NumberElected       int                 `json:"number_elected"`
	VotesAllowed        *int                `json:"votes_allowed"`
	Name                string              `json:"name"`
	BallotSelections    []selectionDescJSON `json:"ballot_selections"`
	BallotTitle         *textJSON           `json:"ballot_title"`
	BallotSubtitle      *textJSON           `json:"ballot_subtitle"`
}

func (c contestJSON) CryptoHash(g *eg.Group) eg.ElementModQ {
	return g.Hash(c.ObjectID, c.SequenceOrder, c.ElectoralDistrictID, c.VoteVariation,
		c.BallotTitle, c.BallotSubtitle, c.Name, c.NumberElected, c.VotesAllowed, c.BallotSelections)
}

// ballotStyleJSON is H(object_id, geopolitical_unit_ids, party_ids, image_uri).
type ballotStyleJSON struct {
	ObjectID            string   `json:"object_id"`
	GeopoliticalUnitIDs []string `json:"geopolitical_unit_ids"`
	PartyIDs            []string `json:"party_ids"`
	ImageURI            *string  `json:"image_uri"`
}

func (s ballotStyleJSON) CryptoHash(g *eg.Group) eg.ElementModQ {
	return g.Hash(s.ObjectID, s.GeopoliticalUnitIDs, s.PartyIDs, s.ImageURI)
}

// manifestHash is H(election_scope_id, type, start_date, end_date, name,
// contact_information, geopolitical_units, parties, contests, ballot_styles), the dates
// in UTC as python's to_iso_date_string writes them.
func (m *manifestJSON) manifestHash(g *eg.Group) (eg.ElementModQ, error) {
	start, err1 := isoDate(m.StartDate)
	end, err2 := isoDate(m.EndDate)
	if err1 != nil || err2 != nil {
		return eg.ElementModQ{}, fmt.Errorf("start_date %q or end_date %q is not an ISO 8601 date-time", m.StartDate, m.EndDate)
	}
	return g.Hash(m.ElectionScopeID, m.Type, start, end, m.Name, m.ContactInformation,
		m.GeopoliticalUnits, m.Parties, m.Contests, m.BallotStyles), nil
}

func isoDate(s string) (string, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Format("2006-01-02T15:04:05Z"), nil
		}
	}
	return "", fmt.Errorf("%q is not a date", s)
}

// contestInfo is what ballots and tallies are checked against for one contest.
type contestInfo struct {
	pos        int // index in the manifest's contests
	id         string
	seq        int
	hash       eg.ElementModQ
	limit      int
	selections []selectionInfo // the manifest's, then the placeholders
	index      map[string]int  // selection id → index in selections
}

type selectionInfo struct {
	id          string
	seq         int
	hash        eg.ElementModQ
	placeholder bool
}

// realSelections returns the selections that are not placeholders.
func (c *contestInfo) realSelections() []selectionInfo {
	n := 0
	for _, s := range c.selections {
		if !s.placeholder {
			n++
		}
	}
	return c.selections[:n]
}

// manifestIndex is the manifest's contests with their hashes and placeholders, and
// each ballot style's contests.
type manifestIndex struct {
	contests []*contestInfo // manifest order
	byID     map[string]*contestInfo
	styles   map[string][]*contestInfo
}

// index checks that the manifest's ids are unique and its contests are well formed,
// and prepares what ballots are checked against.
func (m *manifestJSON) index(g *eg.Group) (*manifestIndex, error) {
	idx := &manifestIndex{byID: map[string]*contestInfo{}, styles: map[string][]*contestInfo{}}
	units := map[string]bool{}
	for _, u := range m.GeopoliticalUnits {
		if units[u.ObjectID] {
			return nil, fmt.Errorf("geopolitical unit %q appears twice", u.ObjectID)
		}
		units[u.ObjectID] = true
	}
	for _, c := range m.Contests {
		if idx.byID[c.ObjectID] != nil {
			return nil, fmt.Errorf("contest %q appears twice", c.ObjectID)
		}
		info, err := contestIndex(g, c)
		if err != nil {
			return nil, err
		}
		if !units[c.ElectoralDistrictID] {
			return nil, fmt.Errorf("contest %q is in unknown district %q", c.ObjectID, c.ElectoralDistrictID)
		}
		info.pos = len(idx.contests)
		idx.contests = append(idx.contests, info)
		idx.byID[c.ObjectID] = info
	}
	for _, s := range m.BallotStyles {
		if _, dup := idx.styles[s.ObjectID]; dup {
			return nil, fmt.Errorf("ballot style %q appears twice", s.ObjectID)
		}
		var cs []*contestInfo
		for i, c := range m.Contests {
			if slices.Contains(s.GeopoliticalUnitIDs, c.ElectoralDistrictID) {
				cs = append(cs, idx.contests[i])
			}
		}
		idx.styles[s.ObjectID] = cs
	}
	return idx, nil
}

// contestIndex prepares one contest: its selections and the placeholders 1.x adds,
// one per vote allowed, numbered after the largest sequence order with ids
// "<contest>-<seq>-placeholder" for candidates "<contest>-<seq>-candidate".
func contestIndex(g *eg.Group, c contestJSON) (*contestInfo, error) {
	limit := c.NumberElected
	if c.VotesAllowed != nil && *c.VotesAllowed != limit {
		return nil, fmt.Errorf("contest %q allows %d votes but elects %d; 1.x ballots prove number_elected", c.ObjectID, *c.VotesAllowed, limit)
	}
	if limit < 1 || limit > len(c.BallotSelections) {
		return nil, fmt.Errorf("contest %q has %d selections and number_elected %d; want 1 ≤ number_elected ≤ selections", c.ObjectID, len(c.BallotSelections), limit)
	}
	info := &contestInfo{id: c.ObjectID, seq: c.SequenceOrder, hash: c.CryptoHash(g), limit: limit, index: map[string]int{}}
	top := -1
	for _, s := range c.BallotSelections {
		info.selections = append(info.selections, selectionInfo{id: s.ObjectID, seq: s.SequenceOrder, hash: s.CryptoHash(g)})
		top = max(top, s.SequenceOrder)
	}
	for i := range limit {
		seq := top + 1 + i
		id := fmt.Sprintf("%s-%d", c.ObjectID, seq)
		ph := selectionDescJSON{ObjectID: id + "-placeholder", SequenceOrder: seq, CandidateID: id + "-candidate"}
		info.selections = append(info.selections, selectionInfo{id: ph.ObjectID, seq: seq, hash: ph.CryptoHash(g), placeholder: true})
	}
	for i, s := range info.selections {
		if _, dup := info.index[s.id]; dup {
			return nil, fmt.Errorf("contest %q has selection %q twice", c.ObjectID, s.id)
		}
		info.index[s.id] = i
	}
	return info, nil
}
