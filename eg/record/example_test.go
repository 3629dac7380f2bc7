package record_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/tallyq/tallyq/eg"
	"github.com/tallyq/tallyq/eg/record"
)

// Example writes a small election record (in the fast test group), then does what a
// tally worker does: reads the record folder, streams its ballots one at a time,
// validates each and multiplies the cast ones into the encrypted tally.
func Example() {
	dir, err := os.MkdirTemp("", "record-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	public := filepath.Join(dir, "election_record")
	writeExampleRecord(public, filepath.Join(dir, "election_private_data"))

	// Read the record: the manifest and context give the election...
	folder := record.OpenFolder(public)
	manifest, err := folder.Manifest()
	if err != nil {
		log.Fatal(err)
	}
	context, err := folder.Context()
	if err != nil {
		log.Fatal(err)
	}
	constants, err := folder.Constants()
	if err != nil {
		log.Fatal(err)
	}
	g := eg.TestGroup() // a real record names the 4096-bit eg.Standard()
	if !constants.Matches(g) {
		log.Fatal("the record is for another group")
	}
	election, err := record.NewElection(g, manifest, context)
	if err != nil {
		log.Fatal(err)
	}
	// ...and the ballots stream one at a time.
	tally := election.NewTally()
	for ballot, err := range folder.SubmittedBallots() {
		if err != nil {
			log.Fatal(err)
		}
		if err := election.ValidateBallot(ballot); err != nil {
			fmt.Println("invalid:", err)
			continue
		}
		if err := tally.Add(ballot); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("cast:", tally.Cast(), "spoiled:", tally.Spoiled())
	// Output:
	// cast: 2 spoiled: 1
}

// writeExampleRecord runs a 3-guardian ceremony and writes three encrypted ballots.
func writeExampleRecord(public, private string) {
	g := eg.TestGroup()
	manifest := &record.Manifest{
		ElectionScopeID: "example", SpecVersion: "v0.95", Type: "general",
		StartDate: "2026-11-03T06:00:00Z", EndDate: "2026-11-03T20:00:00Z",
		GeopoliticalUnits: []record.GeopoliticalUnit{{ObjectID: "county", Name: "County", Type: "county"}},
		Candidates:        []record.Candidate{{ObjectID: "yes"}, {ObjectID: "no"}},
		Contests: []record.ContestDescription{{ObjectID: "measure", ElectoralDistrictID: "county", VoteVariation: "one_of_m",
			NumberElected: 1, Name: "Measure", BallotSelections: []record.SelectionDescription{
				{ObjectID: "measure-yes", SequenceOrder: 0, CandidateID: "yes"},
				{ObjectID: "measure-no", SequenceOrder: 1, CandidateID: "no"}}}},
		BallotStyles: []record.BallotStyle{{ObjectID: "style", GeopoliticalUnitIDs: []string{"county"}}},
		Name:         &record.InternationalizedText{Text: []record.Language{{Value: "Example", Language: "en"}}},
	}
	guardians := []record.GuardianSpec{{ID: "ana", SequenceOrder: 1}, {ID: "ben", SequenceOrder: 2}, {ID: "cy", SequenceOrder: 3}}
	// 1.x uses 4096-bit RSA auxiliary keys; 1024 bits keeps the example fast.
	ceremony, err := record.KeyCeremony(g, manifest, guardians, 2, record.CeremonyOptions{RSABits: 1024})
	if err != nil {
		log.Fatal(err)
	}
	election, err := record.NewElection(g, manifest, ceremony.Context)
	if err != nil {
		log.Fatal(err)
	}
	w := record.NewWriter(public, private)
	must := func(err error) {
		if err != nil {
			log.Fatal(err)
		}
	}
	must(w.WriteConstants(record.ConstantsOf(g)))
	must(w.WriteManifest(manifest))
	must(w.WriteContext(ceremony.Context))
	for i, r := range ceremony.Guardians {
		must(w.WriteGuardian(r))
		must(w.WritePrivateGuardian(ceremony.Private[i]))
	}
	device := record.EncryptionDevice{DeviceID: 1, SessionID: 1, LaunchCode: 1, Location: "example"}
	must(w.WriteDevice(&device))
	enc := election.NewEncrypter(device)
	for i, vote := range []string{"measure-yes", "measure-no", "measure-yes"} {
		state := record.BallotCast
		if i == 2 {
			state = record.BallotSpoiled
		}
		ballot, err := enc.Encrypt(&record.PlaintextBallot{ObjectID: fmt.Sprintf("ballot-%d", i), StyleID: "style",
			Contests: []record.PlaintextBallotContest{{ObjectID: "measure",
				BallotSelections: []record.PlaintextBallotSelection{{ObjectID: vote, Vote: 1}}}}}, state, int64(1700000000+i))
		must(err)
		must(w.WriteSubmittedBallot(ballot))
	}
}
