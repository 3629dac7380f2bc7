package record

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/tallyq/tallyq/eg"
)

// testManifest is a synthetic manifest: three contests (one 2-of-4) over two districts,
// two styles, optional fields both set and unset.
func testManifest() *Manifest {
	str := func(s string) *string { return &s }
	one, two := 1, 2
	text := &InternationalizedText{Text: []Language{{Value: "Test Election", Language: "en"}}}
	sel := func(contest string, n int) []SelectionDescription {
		var out []SelectionDescription
		for i := range n {
			// Sequence orders deliberately not 0..n-1 in order.
			out = append(out, SelectionDescription{ObjectID: fmt.Sprintf("%s-sel-%d", contest, i), SequenceOrder: (n - i) * 3, CandidateID: fmt.Sprintf("%s-cand-%d", contest, i)})
		}
		return out
	}
	var candidates []Candidate
	for _, c := range []struct {
		id string
		n  int
	}{{"mayor", 3}, {"council", 4}, {"measure", 2}} {
		for i := range c.n {
			candidates = append(candidates, Candidate{ObjectID: fmt.Sprintf("%s-cand-%d", c.id, i), Name: &InternationalizedText{}, PartyID: str("party-a")})
		}
	}
	return &Manifest{
		ElectionScopeID: "tallyq-test", SpecVersion: "v0.95", Type: "general",
		StartDate: "2026-11-03T06:00:00-05:00", EndDate: "2026-11-03T20:00:00-05:00",
		GeopoliticalUnits: []GeopoliticalUnit{
			{ObjectID: "city", Name: "City", Type: "city"},
			{ObjectID: "ward-1", Name: "Ward 1", Type: "ward", ContactInformation: &ContactInformation{AddressLine: []string{"1 Main St"}, Name: str("Clerk")}},
		},
		Parties:    []Party{{ObjectID: "party-a", Name: text, Abbreviation: str("A")}},
		Candidates: candidates,
		Contests: []ContestDescription{
			{ObjectID: "mayor", SequenceOrder: 0, ElectoralDistrictID: "city", VoteVariation: "one_of_m", NumberElected: 1, VotesAllowed: &one, Name: "Mayor", BallotSelections: sel("mayor", 3)},
			{ObjectID: "council", SequenceOrder: 1, ElectoralDistrictID: "ward-1", VoteVariation: "n_of_m", NumberElected: 2, VotesAllowed: &two, Name: "Council", BallotSelections: sel("council", 4)},
			{ObjectID: "measure", SequenceOrder: 2, ElectoralDistrictID: "city", VoteVariation: "one_of_m", NumberElected: 1, Name: "Measure A", BallotSelections: sel("measure", 2), BallotTitle: text},
		},
		BallotStyles: []BallotStyle{
			{ObjectID: "style-city", GeopoliticalUnitIDs: []string{"city"}},
			{ObjectID: "style-ward-1", GeopoliticalUnitIDs: []string{"city", "ward-1"}, ImageURI: str("https://example.org/ward1.png")},
		},
		Name: text,
	}
}

// testGuardians are non-numeric ids whose sequence orders do not follow id order.
var testGuardians = []GuardianSpec{{"carol", 4}, {"alice", 2}, {"dave", 1}, {"bob", 5}, {"erin", 3}}

// generated is a ceremony in the test group, made once per test binary: RSA key
// generation dominates its cost.
type generated struct {
	g        *eg.Group
	manifest *Manifest
	cer      *Ceremony
	election *Election
}

var generatedOnce = sync.OnceValues(func() (*generated, error) {
	g := eg.TestGroup()
	m := testManifest()
	cer, err := KeyCeremony(g, m, testGuardians, 3, CeremonyOptions{RSABits: 1024})
	if err != nil {
		return nil, err
	}
	e, err := NewElection(g, m, cer.Context)
	if err != nil {
		return nil, err
	}
	return &generated{g: g, manifest: m, cer: cer, election: e}, nil
})

func generatedElection(t testing.TB) *generated {
	t.Helper()
	gen, err := generatedOnce()
	if err != nil {
		t.Fatal(err)
	}
	return gen
}

// randomBallot votes at random within each contest's limit (sometimes undervoting).
func randomBallot(r *rand.Rand, m *Manifest, id string) *PlaintextBallot {
	style := &m.BallotStyles[r.IntN(len(m.BallotStyles))]
	p := &PlaintextBallot{ObjectID: id, StyleID: style.ObjectID}
	for _, c := range m.ContestsFor(style) {
		pc := PlaintextBallotContest{ObjectID: c.ObjectID, SequenceOrder: c.SequenceOrder}
		votes := r.IntN(c.Limit() + 1)
		for _, i := range r.Perm(len(c.BallotSelections)) {
			s := c.BallotSelections[i]
			v := 0
			if votes > 0 {
				v, votes = 1, votes-1
			}
			if v == 1 || r.IntN(2) == 0 { // leave some zero votes out entirely
				pc.BallotSelections = append(pc.BallotSelections, PlaintextBallotSelection{ObjectID: s.ObjectID, SequenceOrder: s.SequenceOrder, Vote: v})
			}
		}
		p.Contests = append(p.Contests, pc)
	}
	return p
}

// tallyOf returns the tally of the given ballots.
func tallyOf(t testing.TB, e *Election, ballots []*SubmittedBallot) *Tally {
	t.Helper()
	tally := e.NewTally()
	for _, b := range ballots {
		if err := tally.Add(b); err != nil {
			t.Fatal(err)
		}
	}
	return tally
}

// encryptBallots encrypts n random ballots, every third spoiled, and returns them with the
// expected counts of the cast ones per contest and selection.
func encryptBallots(t testing.TB, gen *generated, n int, seed uint64) ([]*SubmittedBallot, []*PlaintextBallot, map[string]map[string]int) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	x := gen.election.NewEncrypter(EncryptionDevice{DeviceID: 42, SessionID: 7, LaunchCode: 9, Location: "test"})
	want := map[string]map[string]int{}
	for _, c := range gen.manifest.Contests {
		want[c.ObjectID] = map[string]int{}
		for _, s := range c.BallotSelections {
			want[c.ObjectID][s.ObjectID] = 0
		}
	}
	var out []*SubmittedBallot
	var plain []*PlaintextBallot
	for i := range n {
		p := randomBallot(r, gen.manifest, fmt.Sprintf("ballot-%03d", i))
		state := BallotCast
		if i%3 == 2 {
			state = BallotSpoiled
		}
		b, err := x.Encrypt(p, state, 1700000000+int64(i))
		if err != nil {
			t.Fatal(err)
		}
		if state == BallotCast {
			for _, c := range p.Contests {
				for _, s := range c.BallotSelections {
					want[c.ObjectID][s.ObjectID] += s.Vote
				}
			}
		}
		out, plain = append(out, b), append(plain, p)
	}
	return out, plain, want
}

func TestGeneratedBallotsValidate(t *testing.T) {
	gen := generatedElection(t)
	if err := VerifyContext(gen.g, gen.cer.Context, gen.cer.Guardians); err != nil {
		t.Fatal(err)
	}
	ballots, _, _ := encryptBallots(t, gen, 12, 1)
	for _, b := range ballots {
		if err := gen.election.ValidateBallot(b); err != nil {
			t.Errorf("ValidateBallot: %v", err)
		}
	}
	for i, err := range gen.election.ValidateBallots(ballots) {
		if err != nil {
			t.Errorf("ValidateBallots[%d]: %v", i, err)
		}
	}
}

// subsets returns every subset of at least k of the ids.
func subsets(ids []string, k int) [][]string {
	var out [][]string
	for mask := range 1 << len(ids) {
		var s []string
		for i, id := range ids {
			if mask&(1<<i) != 0 {
				s = append(s, id)
			}
		}
		if len(s) >= k {
			out = append(out, s)
		}
	}
	return out
}

// TestGeneratedElectionEndToEnd: random ballots in the test group with non-numeric
// guardian ids out of sequence order are encrypted, validated, tallied and decrypted with
// every subset of at least quorum guardians; each gives the plaintext sums, and the
// spoiled ballots decrypt to their plaintexts.
func TestGeneratedElectionEndToEnd(t *testing.T) {
	gen := generatedElection(t)
	e := gen.election
	ballots, plain, want := encryptBallots(t, gen, 15, 2)
	tally := e.NewTally()
	for i, err := range e.ValidateBallots(ballots) {
		if err != nil {
			t.Fatalf("ballot %d: %v", i, err)
		}
		if err := tally.Add(ballots[i]); err != nil {
			t.Fatal(err)
		}
	}
	if tally.Cast() != 10 || tally.Spoiled() != 5 {
		t.Fatalf("cast %d spoiled %d, want 10 and 5", tally.Cast(), tally.Spoiled())
	}
	d, err := e.NewDecryptor(gen.cer.Guardians, uint64(tally.Cast()))
	if err != nil {
		t.Fatal(err)
	}
	cts, err := tally.Record("election-results").Ciphertexts(gen.g)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range testGuardians {
		ids = append(ids, s.ID)
	}
	for _, avail := range subsets(ids, gen.cer.Context.Quorum) {
		trustees := trusteesFor(t, d, gen.cer.Private, avail)
		pt, err := d.Decrypt("election-results", cts, trustees)
		if err != nil {
			t.Fatalf("available %v: %v", avail, err)
		}
		for _, c := range pt.Contests {
			for _, s := range c.Selections {
				if s.Tally != int64(want[c.ObjectID][s.ObjectID]) {
					t.Errorf("available %v: %s/%s = %d, want %d", avail, c.ObjectID, s.ObjectID, s.Tally, want[c.ObjectID][s.ObjectID])
				}
			}
		}
	}
	// Spoiled ballots with the first quorum of guardians.
	trustees := trusteesFor(t, d, gen.cer.Private, ids[:gen.cer.Context.Quorum])
	for i, b := range ballots {
		if b.State != BallotSpoiled {
			continue
		}
		cts, err := b.Ciphertexts(gen.g)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := d.Decrypt(b.ObjectID, cts, trustees)
		if err != nil {
			t.Fatal(err)
		}
		checkSpoiled(t, e, plain[i], pt)
	}
}

func trusteesFor(t *testing.T, d *Decryptor, private []*PrivateGuardian, available []string) []*Trustee {
	t.Helper()
	var missing []string
	avail := map[string]bool{}
	for _, id := range available {
		avail[id] = true
	}
	for _, p := range private {
		if !avail[p.GuardianID] {
			missing = append(missing, p.GuardianID)
		}
	}
	var out []*Trustee
	for _, p := range private {
		if avail[p.GuardianID] {
			tr, err := d.NewTrustee(p, missing)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, tr)
		}
	}
	return out
}

// checkSpoiled checks a decrypted spoiled ballot gives the plaintext's votes, and its
// placeholders fill each contest up to its limit.
func checkSpoiled(t *testing.T, e *Election, p *PlaintextBallot, pt *PlaintextTally) {
	t.Helper()
	for _, c := range pt.Contests {
		votes := map[string]int{}
		for _, pc := range p.Contests {
			if pc.ObjectID == c.ObjectID {
				for _, s := range pc.BallotSelections {
					votes[s.ObjectID] = s.Vote
				}
			}
		}
		desc, _ := e.Manifest.Contest(c.ObjectID)
		total := int64(0)
		for _, s := range c.Selections {
			total += s.Tally
			if !strings.HasSuffix(s.ObjectID, "-placeholder") && s.Tally != int64(votes[s.ObjectID]) {
				t.Errorf("spoiled %s: %s/%s = %d, want %d", p.ObjectID, c.ObjectID, s.ObjectID, s.Tally, votes[s.ObjectID])
			}
		}
		if total != int64(desc.Limit()) {
			t.Errorf("spoiled %s: contest %s sums to %d with placeholders, want %d", p.ObjectID, c.ObjectID, total, desc.Limit())
		}
	}
}
