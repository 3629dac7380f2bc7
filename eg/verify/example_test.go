package verify_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/tallyq/tallyq/eg/verify"
)

// ExampleDir verifies an election record folder, then a copy with one cast ballot
// removed, and prints what the verifier reports. The record here is a small test-group
// election written once for this package's tests; a real one is the folder that
// `tallyq export` or electionguard-python writes.
func ExampleDir() {
	dir, err := generatedRecord()
	if err != nil {
		log.Fatal(err)
	}
	report, err := verify.Dir(context.Background(), dir, verify.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("valid:", report.OK())
	fmt.Println(report.Summary())

	tmp, err := os.MkdirTemp("", "verify-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	tampered := filepath.Join(tmp, "election_record")
	if err := os.CopyFS(tampered, os.DirFS(dir)); err != nil {
		log.Fatal(err)
	}
	if err := os.Remove(filepath.Join(tampered, "submitted_ballots", "submitted_ballot_ballot-000.json")); err != nil {
		log.Fatal(err)
	}
	report, err = verify.Dir(context.Background(), tampered, verify.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("valid:", report.OK())
	for _, p := range report.Problems[:2] {
		fmt.Printf("%s: %s\n", p.Check, p.File)
	}
	// Output:
	// valid: true
	// test group, 5 guardians (quorum 3, missing: dave, bob); 32 cast and 8 spoiled ballots, 2 invalid ballots left out; 7 tally selections and 8 spoiled ballot decryptions
	// valid: false
	// tracking code chain: submitted_ballots/submitted_ballot_ballot-002.json
	// tally product: encrypted_tally.json
}
