// Package synth makes synthetic ElectionGuard elections for the demo, tests
// and benchmarks: a manifest of a chosen size, a key ceremony, and encrypted
// ballots whose plaintext is known, so that a tally's decrypted results can
// be checked against what the voters chose.
//
// The voters' choices are a pure function of a seed and the ballot's index,
// so the same seed always means the same plaintexts and the same expected
// results; the ciphertexts differ on every run, since encryption draws fresh
// nonces as ElectionGuard requires.
package synth

import (
	"cmp"
	"fmt"
	"math/rand/v2"

	"github.com/tallyq/tallyq/eg"
	"github.com/tallyq/tallyq/eg/record"
)

// Options describe a synthetic election. Zero fields take the defaults
// below.
type Options struct {
	// Guardians is the number of guardians (default 5); Quorum how many of
	// them can decrypt (default 3).
	Guardians, Quorum int
	// Contests is the number of contests (default 3); SelectionsPerContest
	// the choices in each (default 4). Every third contest, from the second
	// on, elects two when it has at least three selections; the others elect one.
	Contests, SelectionsPerContest int
	// RSABits is the size of the guardians' auxiliary keys, which protect
	// their key backups (default 1024: the ceremony then takes milliseconds
	// instead of ElectionGuard's seconds per guardian at 4096 bits).
	RSABits int
	// Seed makes the selections' popularity, so that results are not
	// uniform and differ between seeds.
	Seed uint64
}

// Defaults of Options.
const (
	DefaultGuardians            = 5
	DefaultQuorum               = 3
	DefaultContests             = 3
	DefaultSelectionsPerContest = 4
	DefaultRSABits              = 1024
)

func (o *Options) setDefaults() {
	o.Guardians = cmp.Or(o.Guardians, DefaultGuardians)
	o.Quorum = cmp.Or(o.Quorum, min(DefaultQuorum, o.Guardians))
	o.Contests = cmp.Or(o.Contests, DefaultContests)
	o.SelectionsPerContest = cmp.Or(o.SelectionsPerContest, DefaultSelectionsPerContest)
	o.RSABits = cmp.Or(o.RSABits, DefaultRSABits)
}

// Election is a synthetic election after its key ceremony. It is immutable
// and safe for concurrent use; its Ceremony holds the guardians' private
// records, whose secrets redact themselves when formatted.
type Election struct {
	Options  Options
	Group    *eg.Group
	Manifest *record.Manifest
	Ceremony *record.Ceremony
	// Election is the manifest and context prepared for encrypting,
	// validating and decrypting.
	Election *record.Election

	// weights[c][s] is selection s's popularity in contest c.
	weights [][]float64
}

// NewElection makes a manifest as opts describe and runs a key ceremony for
// it in group g.
func NewElection(g *eg.Group, opts Options) (*Election, error) {
	opts.setDefaults()
	switch {
	case opts.Guardians < 1 || opts.Quorum < 1 || opts.Quorum > opts.Guardians:
		return nil, fmt.Errorf("synth: %d guardians with quorum %d; want 1 ≤ quorum ≤ guardians", opts.Guardians, opts.Quorum)
	case opts.Contests < 1 || opts.SelectionsPerContest < 1:
		return nil, fmt.Errorf("synth: %d contests of %d selections; want at least one of each", opts.Contests, opts.SelectionsPerContest)
	}
	m := NewManifest(opts.Contests, opts.SelectionsPerContest)
	specs := make([]record.GuardianSpec, opts.Guardians)
	for i := range specs {
		specs[i] = record.GuardianSpec{ID: GuardianID(i), SequenceOrder: i + 1}
	}
	cer, err := record.KeyCeremony(g, m, specs, opts.Quorum, record.CeremonyOptions{RSABits: opts.RSABits})
	if err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	el, err := record.NewElection(g, m, cer.Context)
	if err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	e := &Election{Options: opts, Group: g, Manifest: m, Ceremony: cer, Election: el}
	r := rand.New(rand.NewPCG(opts.Seed, 0x5eed))
	for _, c := range m.Contests {
		w := make([]float64, len(c.BallotSelections))
		for j := range w {
			w[j] = 0.2 + r.Float64() // no selection gets (almost) no votes
		}
		e.weights = append(e.weights, w)
	}
	return e, nil
}

// GuardianID is the id of the i-th guardian (from 0), whose sequence order
// is i+1.
func GuardianID(i int) string { return fmt.Sprintf("guardian-%d", i+1) }

// StyleID is the id of the manifest's one ballot style.
const StyleID = "ballot-style"

// NewManifest returns a manifest of contests contests with selections
// selections each, all on one ballot style in one county. Ids are
// "contest-C" and "contest-C-selection-S" (from 1); every third contest,
// from the second on, elects two when it has at least three selections.
func NewManifest(contests, selections int) *record.Manifest {
	text := func(s string) *record.InternationalizedText {
		return &record.InternationalizedText{Text: []record.Language{{Value: s, Language: "en"}}}
	}
	m := &record.Manifest{
		ElectionScopeID: "tallyq-synthetic", SpecVersion: "v0.95", Type: "general",
		StartDate: "2026-11-03T06:00:00-05:00", EndDate: "2026-11-03T20:00:00-05:00",
		GeopoliticalUnits: []record.GeopoliticalUnit{{ObjectID: "county", Name: "Synthetic County", Type: "county"}},
		BallotStyles:      []record.BallotStyle{{ObjectID: StyleID, GeopoliticalUnitIDs: []string{"county"}}},
		Name:              text("Synthetic Election"),
	}
	for c := range contests {
		id := fmt.Sprintf("contest-%d", c+1)
		elected := 1
		if c%3 == 1 && selections >= 3 {
			elected = 2
		}
		variation := record.VoteVariationType("one_of_m")
		if elected > 1 {
			variation = "n_of_m"
		}
		d := record.ContestDescription{ObjectID: id, SequenceOrder: c, ElectoralDistrictID: "county",
			VoteVariation: variation, NumberElected: elected, VotesAllowed: &elected, Name: fmt.Sprintf("Contest %d", c+1)}
		for s := range selections {
			cand := fmt.Sprintf("%s-candidate-%d", id, s+1)
			d.BallotSelections = append(d.BallotSelections, record.SelectionDescription{
				ObjectID: fmt.Sprintf("%s-selection-%d", id, s+1), SequenceOrder: s, CandidateID: cand})
			m.Candidates = append(m.Candidates, record.Candidate{ObjectID: cand,
				Name: text(fmt.Sprintf("Candidate %c%d", 'A'+rune(s%26), c+1))})
		}
		m.Contests = append(m.Contests, d)
	}
	return m
}

// Devices returns the encryption devices of n encrypting workers: device i
// encrypts the ballots of worker i.
func (e *Election) Devices(n int) []*record.EncryptionDevice {
	out := make([]*record.EncryptionDevice, n)
	for i := range out {
		out[i] = &record.EncryptionDevice{DeviceID: int64(i + 1), SessionID: 1, LaunchCode: 1000 + int64(i), Location: "synthetic polling place"}
	}
	return out
}

// Plaintext returns the ballot that voter i (from 0) casts under seed: in
// each contest it votes for as many selections as the contest elects,
// chosen by their popularity, except that about one voter in twenty votes
// for fewer. The ballot lists only the selections voted for.
func (e *Election) Plaintext(seed uint64, i int) *record.PlaintextBallot {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	p := &record.PlaintextBallot{ObjectID: BallotID(i), StyleID: StyleID}
	for c := range e.Manifest.Contests {
		d := &e.Manifest.Contests[c]
		votes := d.Limit()
		if r.IntN(20) == 0 {
			votes = r.IntN(votes) // an undervote, possibly blank
		}
		pc := record.PlaintextBallotContest{ObjectID: d.ObjectID, SequenceOrder: d.SequenceOrder}
		for _, j := range pick(r, e.weights[c], votes) {
			s := d.BallotSelections[j]
			pc.BallotSelections = append(pc.BallotSelections, record.PlaintextBallotSelection{ObjectID: s.ObjectID, SequenceOrder: s.SequenceOrder, Vote: 1})
		}
		p.Contests = append(p.Contests, pc)
	}
	return p
}

// BallotID is the object id of ballot i (from 0).
func BallotID(i int) string { return fmt.Sprintf("ballot-%07d", i+1) }

// pick draws k distinct indices of weights, each with probability
// proportional to its weight among those not drawn yet.
func pick(r *rand.Rand, weights []float64, k int) []int {
	taken := make([]bool, len(weights))
	out := make([]int, 0, k)
	for range k {
		total := 0.0
		for j, w := range weights {
			if !taken[j] {
				total += w
			}
		}
		x := r.Float64() * total
		last := -1
		for j, w := range weights {
			if taken[j] {
				continue
			}
			last = j
			if x -= w; x < 0 {
				break
			}
		}
		taken[last] = true
		out = append(out, last)
	}
	return out
}

// Spoiled reports whether ballot i of count is spoiled when spoiled of them
// are: exactly spoiled ballots, spread evenly.
func Spoiled(i, count, spoiled int) bool {
	return (i+1)*spoiled/count > i*spoiled/count
}
