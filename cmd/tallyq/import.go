package main

import (
	"context"
	"fmt"
	"os"

	"github.com/tallyq/tallyq/jobs/election"
)

func init() {
	register(&command{
		name:    "import",
		summary: "create an election from an ElectionGuard 0.95 election record folder",
		run:     runImport,
	})
}

// importOptions are the flags and the folder of `tallyq import`.
type importOptions struct {
	engineOptions
	dir    string
	verify bool
}

func (o *importOptions) register(fs *flagSet) {
	o.engineOptions.register(fs)
	fs.BoolVar(&o.verify, "verify-ballots", true, "make the tally check every ballot's proofs (--verify-ballots=false to skip)")
}

func (o *importOptions) validate() error {
	if o.dir == "" {
		return usagef("name the election record folder: tallyq import DIR")
	}
	return o.engineOptions.validate()
}

func runImport(ctx context.Context, e *env, args []string) error {
	var opts importOptions
	dir, flags, err := folderArg(args, opts.register)
	if err != nil {
		return err
	}
	opts.dir = dir
	if err := parseOptions(e, flags, "import", "[flags] DIR",
		"import reads an ElectionGuard 0.95 election record folder (constants, manifest, context, guardians,\n"+
			"encryption devices, submitted ballots) into a new OPEN election. The context's hashes and joint key\n"+
			"are recomputed and a mismatch is refused, saying which. It prints what happened to the ballots;\n"+
			"the last line of its output is the new election's id alone, for scripts.", &opts); err != nil {
		return err
	}
	if _, err := os.Stat(opts.dir); err != nil {
		return usagef("%v", err)
	}
	svc, err := startService(ctx, opts.logger(e), opts.engineOptions, 0)
	if err != nil {
		return err
	}
	defer svc.pool.Close()
	res, err := svc.elections.ImportFolder(ctx, os.DirFS(opts.dir), election.ImportOptions{
		CreatedBy: "cli", DoNotVerifyBallots: !opts.verify})
	if err != nil {
		return err
	}
	printIngest(e, res.Ballots)
	fmt.Fprintf(e.stdout, "%d\n", res.ElectionID)
	return nil
}

// printIngest prints an ingest report: counts, then each rejected ballot.
func printIngest(e *env, r *election.IngestReport) {
	fmt.Fprintf(e.stdout, "ballots: %d read, %d stored, %d already stored, %d rejected\n",
		r.Received, r.Stored, r.AlreadyStored, r.Rejected)
	for _, le := range r.Errors {
		fmt.Fprintf(e.stdout, "  ballot %d %s: %s\n", le.Line, le.BallotID, le.Error)
	}
	if r.ErrorsTruncated {
		fmt.Fprintf(e.stdout, "  (%d more rejections not listed)\n", r.Rejected-len(r.Errors))
	}
}
