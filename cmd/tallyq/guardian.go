package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tallyq/tallyq/eg/record"
)

func init() {
	register(&command{
		name:    "guardian",
		summary: "a guardian's offline work: compute its decryption shares to upload (decrypt)",
		run:     runGuardian,
	})
}

// guardianOptions are the flags and the action of `tallyq guardian`.
type guardianOptions struct {
	action         string
	record         string
	electionRecord string
	missing        string
	out            string
}

func (o *guardianOptions) register(fs *flagSet) {
	fs.StringEnv(&o.record, "record", "TALLYQ_GUARDIAN_RECORD", "",
		"the guardian's private record `file` (private_guardian_<id>.json; required); it is read here and never sent")
	fs.StringEnv(&o.electionRecord, "election-record", "TALLYQ_ELECTION_RECORD", "",
		"the election record `folder` (constants, manifest, context, guardians, encrypted_tally.json, submitted_ballots/; required)")
	fs.StringEnv(&o.missing, "missing", "TALLYQ_MISSING_GUARDIANS", "",
		"comma-separated `ids` of missing guardians to compute compensated shares for")
	fs.StringEnv(&o.out, "out", "TALLYQ_GUARDIAN_SHARES", "", "write the shares to this `file` instead of standard output")
}

func (o *guardianOptions) validate() error {
	switch {
	case o.action == "":
		return usagef("say decrypt; see `tallyq guardian -h`")
	case o.record == "" || o.electionRecord == "":
		return usagef("name the private record and the election record: --record FILE --election-record DIR")
	}
	return nil
}

// missingIDs returns the ids of --missing.
func (o *guardianOptions) missingIDs() []string {
	ids := []string{}
	for _, id := range strings.Split(o.missing, ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

func runGuardian(ctx context.Context, e *env, args []string) error {
	var opts guardianOptions
	flags, action, err := splitWord(args, "decrypt")
	if err != nil {
		return err
	}
	opts.action = action
	if err := parseOptions(e, flags, "guardian", "decrypt --record FILE --election-record DIR [flags]",
		"decrypt computes, on the guardian's own machine, its decryption share with a Chaum-Pedersen proof of\n"+
			"every selection of the encrypted tally and of every spoiled ballot, and for each --missing guardian its\n"+
			"compensated share, and writes them as one JSON file to upload to\n"+
			"POST /api/elections/{id}/guardians/{guardian}/shares. The file holds no secret; the private record\n"+
			"(secret key, backups) stays here. The shares are checked against the election record before writing.",
		&opts); err != nil {
		return err
	}
	gs, err := computeShares(ctx, &opts)
	if err != nil {
		return err
	}
	data, err := record.Marshal(gs)
	if err != nil {
		return err
	}
	if len(data) > record.MaxDocumentBytes {
		return fmt.Errorf("the shares file would be %d bytes; tallyq accepts at most %d", len(data), record.MaxDocumentBytes)
	}
	if err := writeOutput(e, opts.out, data); err != nil {
		return err
	}
	spoiled := 0
	for _, b := range gs.SpoiledBallots {
		for _, c := range b.Contests {
			spoiled += len(c.Selections)
		}
	}
	fmt.Fprintf(e.stderr, "guardian %s: shares of the tally and of %d spoiled ballots (%d selections), compensating for %d missing guardians%s\n",
		gs.GuardianID, len(gs.SpoiledBallots), spoiled, len(gs.MissingGuardianIDs), destination(opts.out))
	return nil
}

// computeShares reads the election record and the private record and computes the
// guardian's shares, then verifies them as the server will.
func computeShares(ctx context.Context, o *guardianOptions) (*record.GuardianShares, error) {
	folder := record.OpenFolder(o.electionRecord)
	d, err := folder.Decryptor(0)
	if err != nil {
		return nil, fmt.Errorf("election record %s: %w", o.electionRecord, err)
	}
	tally, err := folder.EncryptedTally()
	if err != nil {
		return nil, fmt.Errorf("election record %s: %w (is the tally done?)", o.electionRecord, err)
	}
	f, err := os.Open(o.record)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := record.DecodePrivateGuardian(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.record, err)
	}
	gs, err := record.ComputeGuardianShares(ctx, d, p, tally, folder.SubmittedBallots(), o.missingIDs())
	if err != nil {
		return nil, err
	}
	if err := d.VerifyGuardianShares(ctx, gs, tally, folder.SubmittedBallots()); err != nil {
		return nil, fmt.Errorf("the computed shares do not verify; please report this: %w", err)
	}
	return gs, nil
}

// writeOutput writes data to the file path, whole or not at all, or to standard output
// when path is empty.
func writeOutput(e *env, path string, data []byte) error {
	if path == "" {
		_, err := e.stdout.Write(data)
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func destination(path string) string {
	if path == "" {
		return ""
	}
	return "; written to " + path
}
