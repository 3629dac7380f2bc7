package main

import (
	"context"
	"fmt"
	"os"

	"github.com/tallyq/tallyq/eg/record"
)

func init() {
	register(&command{
		name:    "export",
		summary: "write an election's ElectionGuard 0.95 election record to a folder",
		run:     runExport,
	})
}

// exportOptions are the flags and the folder of `tallyq export`.
type exportOptions struct {
	engineOptions
	dir        string
	electionID int64
}

func (o *exportOptions) register(fs *flagSet) {
	o.engineOptions.register(fs)
	fs.Int64Var(&o.electionID, "election", 0, "the election's `id` (required)")
}

func (o *exportOptions) validate() error {
	if o.dir == "" {
		return usagef("name the folder to write: tallyq export --election N DIR")
	}
	if o.electionID < 1 {
		return usagef("--election must name an election (a positive id)")
	}
	return o.engineOptions.validate()
}

func runExport(ctx context.Context, e *env, args []string) error {
	var opts exportOptions
	dir, flags, err := folderArg(args, opts.register)
	if err != nil {
		return err
	}
	opts.dir = dir
	if err := parseOptions(e, flags, "export", "[flags] --election N DIR",
		"export writes the election's record in the ElectionGuard 0.95 layout: constants, context, manifest,\n"+
			"guardians, encryption devices and submitted ballots, then, as far as the election has got,\n"+
			"encrypted_tally.json, tally.json with every share, spoiled_ballots/ and coefficients.json.\n"+
			"Ballots the tally found invalid go to invalid_ballots/ (reasons in invalid_ballots.json), so any\n"+
			"verifier's product of the cast ballots equals the encrypted tally. Check it with `tallyq verify DIR`.", &opts); err != nil {
		return err
	}
	if entries, err := os.ReadDir(opts.dir); err == nil && len(entries) > 0 {
		return usagef("%s is not empty; export writes into a new or empty folder", opts.dir)
	}
	svc, err := startService(ctx, opts.logger(e), opts.engineOptions, 0)
	if err != nil {
		return err
	}
	defer svc.pool.Close()
	if err := svc.elections.Export(ctx, opts.electionID, record.NewWriter(opts.dir, "")); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "election %d written to %s\n", opts.electionID, opts.dir)
	return nil
}
