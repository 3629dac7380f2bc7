package record

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// ElectionType is the manifest's election type (python ElectionType), written as its name.
type ElectionType string

// ReportingUnitType is a geopolitical unit's type (python ReportingUnitType), written as its name.
type ReportingUnitType string

// VoteVariationType is a contest's voting rule (python VoteVariationType), written as its name.
type VoteVariationType string

var (
	electionTypes = []string{"unknown", "general", "partisan_primary_closed", "partisan_primary_open",
		"primary", "runoff", "special", "other"}
	reportingUnitTypes = []string{"unknown", "ballot_batch", "ballot_style_area", "borough", "city",
		"city_council", "combined_precinct", "congressional", "country", "county", "county_council",
		"drop_box", "judicial", "municipality", "polling_place", "precinct", "school", "special",
		"split_precinct", "state", "state_house", "state_senate", "township", "utility", "village",
		"vote_center", "ward", "water", "other"}
	voteVariationTypes = []string{"unknown", "one_of_m", "approval", "borda", "cumulative", "majority",
		"n_of_m", "plurality", "proportional", "range", "rcv", "super_majority", "other"}
)

// The hashes use an enum's python name, which equals its value in 1.x; decoding rejects
// anything else so that the name we hash is the one python would.
func unmarshalEnum(b []byte, allowed []string, what string) (string, error) {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if !slices.Contains(allowed, s) {
		return "", fmt.Errorf("%s %q is not one of the 1.x names", what, s)
	}
	return s, nil
}

// UnmarshalJSON accepts only the 1.x names.
func (t *ElectionType) UnmarshalJSON(b []byte) error {
	s, err := unmarshalEnum(b, electionTypes, "election type")
	*t = ElectionType(s)
	return err
}

// UnmarshalJSON accepts only the 1.x names.
func (t *ReportingUnitType) UnmarshalJSON(b []byte) error {
	s, err := unmarshalEnum(b, reportingUnitTypes, "reporting unit type")
	*t = ReportingUnitType(s)
	return err
}

// UnmarshalJSON accepts only the 1.x names.
func (t *VoteVariationType) UnmarshalJSON(b []byte) error {
	s, err := unmarshalEnum(b, voteVariationTypes, "vote variation")
	*t = VoteVariationType(s)
	return err
}

// Manifest describes the election (python Manifest); its hash is the root of every other hash.
type Manifest struct {
	ElectionScopeID    string                 `json:"election_scope_id"`
	SpecVersion        string                 `json:"spec_version"`
	Type               ElectionType           `json:"type"`
	StartDate          string                 `json:"start_date"`
	EndDate            string                 `json:"end_date"`
	GeopoliticalUnits  []GeopoliticalUnit     `json:"geopolitical_units"`
	Parties            []Party                `json:"parties"`
	Candidates         []Candidate            `json:"candidates"`
	Contests           []ContestDescription   `json:"contests"`
	BallotStyles       []BallotStyle          `json:"ballot_styles"`
	Name               *InternationalizedText `json:"name"`
	ContactInformation *ContactInformation    `json:"contact_information"`
}

// InternationalizedText is text in several languages.
type InternationalizedText struct {
	Text []Language `json:"text"`
}

// Language is one translation of a text.
type Language struct {
	Value    string `json:"value"`
	Language string `json:"language"`
}

// AnnotatedString is a string with an annotation (an e-mail address or phone number).
type AnnotatedString struct {
	Annotation string `json:"annotation"`
	Value      string `json:"value"`
}

// ContactInformation is how to reach a person or body.
type ContactInformation struct {
	AddressLine []string          `json:"address_line"`
	Email       []AnnotatedString `json:"email"`
	Phone       []AnnotatedString `json:"phone"`
	Name        *string           `json:"name"`
}

// GeopoliticalUnit is a district, city or precinct that contests belong to.
type GeopoliticalUnit struct {
	ObjectID           string              `json:"object_id"`
	Name               string              `json:"name"`
	Type               ReportingUnitType   `json:"type"`
	ContactInformation *ContactInformation `json:"contact_information"`
}

// Party is a political party.
type Party struct {
	ObjectID     string                 `json:"object_id"`
	Name         *InternationalizedText `json:"name"`
	Abbreviation *string                `json:"abbreviation"`
	Color        *string                `json:"color"`
	LogoURI      *string                `json:"logo_uri"`
}

// Candidate is anything a selection votes for (a person, or a referendum's answer).
type Candidate struct {
	ObjectID  string                 `json:"object_id"`
	Name      *InternationalizedText `json:"name"`
	PartyID   *string                `json:"party_id"`
	ImageURI  *string                `json:"image_uri"`
	IsWriteIn *bool                  `json:"is_write_in"`
}

// SelectionDescription is one selection of a contest.
type SelectionDescription struct {
	ObjectID      string `json:"object_id"`
	SequenceOrder int    `json:"sequence_order"`
	CandidateID   string `json:"candidate_id"`
}

// ContestDescription is a contest (python ContestDescription and its candidate and
// referendum subclasses, which add only primary_party_ids).
type ContestDescription struct {
	ObjectID            string                 `json:"object_id"`
	SequenceOrder       int                    `json:"sequence_order"`
	ElectoralDistrictID string                 `json:"electoral_district_id"`
	VoteVariation       VoteVariationType      `json:"vote_variation"`
	NumberElected       int                    `json:"number_elected"`
	VotesAllowed        *int                   `json:"votes_allowed"`
	Name                string                 `json:"name"`
	BallotSelections    []SelectionDescription `json:"ballot_selections"`
	BallotTitle         *InternationalizedText `json:"ballot_title"`
	BallotSubtitle      *InternationalizedText `json:"ballot_subtitle"`
	PrimaryPartyIDs     []string               `json:"primary_party_ids,omitempty"`
}

// BallotStyle names the geopolitical units whose contests a ballot of that style holds.
type BallotStyle struct {
	ObjectID            string   `json:"object_id"`
	GeopoliticalUnitIDs []string `json:"geopolitical_unit_ids"`
	PartyIDs            []string `json:"party_ids"`
	ImageURI            *string  `json:"image_uri"`
}

// hashDate formats a manifest date as 1.x's to_iso_date_string: converted to UTC when it
// carries a zone, seconds precision, with a literal Z.
func hashDate(s string) (string, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		t, err := time.Parse(layout, s)
		if err == nil {
			return t.UTC().Format("2006-01-02T15:04:05Z"), nil
		}
	}
	return "", fmt.Errorf("date %q is not an ISO 8601 date-time", s)
}

// Contest returns the contest with the given id.
func (m *Manifest) Contest(id string) (*ContestDescription, bool) {
	for i := range m.Contests {
		if m.Contests[i].ObjectID == id {
			return &m.Contests[i], true
		}
	}
	return nil, false
}

// Style returns the ballot style with the given id.
func (m *Manifest) Style(id string) (*BallotStyle, bool) {
	for i := range m.BallotStyles {
		if m.BallotStyles[i].ObjectID == id {
			return &m.BallotStyles[i], true
		}
	}
	return nil, false
}

// ContestsFor returns the contests of a ballot style in manifest order: those whose
// electoral district is one of the style's geopolitical units (python get_contests_for).
func (m *Manifest) ContestsFor(style *BallotStyle) []*ContestDescription {
	var out []*ContestDescription
	for i := range m.Contests {
		if slices.Contains(style.GeopoliticalUnitIDs, m.Contests[i].ElectoralDistrictID) {
			out = append(out, &m.Contests[i])
		}
	}
	return out
}

// Placeholders returns the contest's placeholder selections as 1.x generates them:
// Limit() of them, sequence orders following the largest selection's, ids
// "<contest>-<seq>-placeholder" for candidates "<contest>-<seq>-candidate".
func (c *ContestDescription) Placeholders() []SelectionDescription {
	top := -1
	for _, s := range c.BallotSelections {
		top = max(top, s.SequenceOrder)
	}
	out := make([]SelectionDescription, 0, c.Limit())
	for i := range c.Limit() {
		seq := top + 1 + i
		id := fmt.Sprintf("%s-%d", c.ObjectID, seq)
		out = append(out, SelectionDescription{ObjectID: id + "-placeholder", SequenceOrder: seq, CandidateID: id + "-candidate"})
	}
	return out
}

// Limit is the number of votes a ballot's contest must total, placeholders included: the
// manifest's votes_allowed, or number_elected where votes_allowed is absent. 1.x creates
// number_elected placeholders and proves the contest sums to number_elected, so Validate
// accepts a votes_allowed only when it equals number_elected.
func (c *ContestDescription) Limit() int {
	if c.VotesAllowed != nil {
		return *c.VotesAllowed
	}
	return c.NumberElected
}

// Validate checks what validating and tallying ballots rely on (python's
// Manifest.is_valid and a little more): parseable dates; unique ids of units, parties,
// candidates, contests, styles and, within a contest, of selections, candidates and
// sequence orders; contests in known districts with at least one selection and
// 1 ≤ number_elected ≤ selections and votes_allowed, when given, equal to number_elected;
// styles naming known units.
func (m *Manifest) Validate() error {
	for _, d := range []string{m.StartDate, m.EndDate} {
		if _, err := hashDate(d); err != nil {
			return fmt.Errorf("manifest: %w", err)
		}
	}
	units := map[string]bool{}
	for _, u := range m.GeopoliticalUnits {
		if units[u.ObjectID] {
			return fmt.Errorf("manifest: geopolitical unit %q appears twice", u.ObjectID)
		}
		units[u.ObjectID] = true
	}
	if err := unique("party", m.Parties, func(p Party) string { return p.ObjectID }); err != nil {
		return err
	}
	if err := unique("candidate", m.Candidates, func(c Candidate) string { return c.ObjectID }); err != nil {
		return err
	}
	if err := unique("contest", m.Contests, func(c ContestDescription) string { return c.ObjectID }); err != nil {
		return err
	}
	if err := unique("ballot style", m.BallotStyles, func(s BallotStyle) string { return s.ObjectID }); err != nil {
		return err
	}
	for i := range m.Contests {
		if err := m.Contests[i].validate(units); err != nil {
			return err
		}
	}
	for _, s := range m.BallotStyles {
		for _, u := range s.GeopoliticalUnitIDs {
			if !units[u] {
				return fmt.Errorf("manifest: ballot style %q names unknown geopolitical unit %q", s.ObjectID, u)
			}
		}
	}
	return nil
}

func (c *ContestDescription) validate(units map[string]bool) error {
	if !units[c.ElectoralDistrictID] {
		return fmt.Errorf("manifest: contest %q is in unknown district %q", c.ObjectID, c.ElectoralDistrictID)
	}
	if len(c.BallotSelections) == 0 || c.NumberElected < 1 || c.NumberElected > len(c.BallotSelections) {
		return fmt.Errorf("manifest: contest %q has %d selections and number_elected %d; want 1 ≤ number_elected ≤ selections", c.ObjectID, len(c.BallotSelections), c.NumberElected)
	}
	if c.VotesAllowed != nil && *c.VotesAllowed != c.NumberElected {
		// 1.x ballots carry number_elected placeholders and prove that total, so they could
		// not be checked against any other votes_allowed.
		return fmt.Errorf("manifest: contest %q allows %d votes but elects %d; ElectionGuard 1.x supports only votes_allowed = number_elected", c.ObjectID, *c.VotesAllowed, c.NumberElected)
	}
	for _, key := range []func(SelectionDescription) string{
		func(s SelectionDescription) string { return s.ObjectID },
		func(s SelectionDescription) string { return s.CandidateID },
		func(s SelectionDescription) string { return fmt.Sprint("sequence order ", s.SequenceOrder) },
	} {
		if err := unique("selection of contest "+c.ObjectID, c.BallotSelections, key); err != nil {
			return err
		}
	}
	return nil
}

func unique[T any](what string, items []T, id func(T) string) error {
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		k := id(it)
		if seen[k] {
			return fmt.Errorf("manifest: %s %q appears twice", what, k)
		}
		seen[k] = true
	}
	return nil
}

// MarshalJSON writes the lists 1.x requires as [] when they are nil, so python reads the
// manifest back (the hash treats both as "null").
func (m Manifest) MarshalJSON() ([]byte, error) {
	type plain Manifest
	p := plain(m)
	p.GeopoliticalUnits = nonNil(p.GeopoliticalUnits)
	p.Parties = nonNil(p.Parties)
	p.Candidates = nonNil(p.Candidates)
	p.BallotStyles = nonNil(p.BallotStyles)
	p.Contests = nonNil(slices.Clone(p.Contests))
	for i := range p.Contests {
		p.Contests[i].BallotSelections = nonNil(p.Contests[i].BallotSelections)
	}
	return json.Marshal(p)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Decoding applies 1.x's defaults for fields a manifest may leave out, so that the hash
// is the one python computes for the same file: a language defaults to "en", a party's
// or candidate's name to empty text.

// UnmarshalJSON defaults language to "en".
func (l *Language) UnmarshalJSON(b []byte) error {
	type plain Language
	v, err := withDefaults(b, plain{Language: "en"})
	*l = Language(v)
	return err
}

// UnmarshalJSON defaults name to empty text.
func (c *Candidate) UnmarshalJSON(b []byte) error {
	type plain Candidate
	v, err := withDefaults(b, plain{Name: &InternationalizedText{}})
	*c = Candidate(v)
	return err
}

// UnmarshalJSON defaults name to empty text.
func (p *Party) UnmarshalJSON(b []byte) error {
	type plain Party
	v, err := withDefaults(b, plain{Name: &InternationalizedText{}})
	*p = Party(v)
	return err
}

// withDefaults decodes b over def, so that the fields b leaves out keep def's values.
func withDefaults[T any](b []byte, def T) (T, error) {
	err := json.Unmarshal(b, &def)
	return def, err
}

// MarshalJSON writes no text as [] (python's default), not null.
func (t InternationalizedText) MarshalJSON() ([]byte, error) {
	type plain InternationalizedText
	return json.Marshal(plain{Text: nonNil(t.Text)})
}
