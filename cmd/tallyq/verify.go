package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/tallyq/tallyq/eg/verify"
)

func init() {
	register(&command{
		name:    "verify",
		summary: "check an ElectionGuard 0.95 election record folder independently of the pipeline",
		run:     runVerify,
	})
}

// verifyOptions are the flags and the folder of `tallyq verify`.
type verifyOptions struct {
	dir         string
	workers     int
	maxProblems int
}

func (o *verifyOptions) register(fs *flagSet) {
	fs.IntEnv(&o.workers, "workers", "TALLYQ_VERIFY_WORKERS", 0,
		"ballots and decryptions checked at once (0: one per CPU)")
	fs.IntEnv(&o.maxProblems, "max-problems", "TALLYQ_VERIFY_MAX_PROBLEMS", 100,
		"problems listed at most; the rest are counted")
}

func (o *verifyOptions) validate() error {
	if o.dir == "" {
		return usagef("name the election record folder: tallyq verify DIR")
	}
	if o.workers < 0 {
		return usagef("--workers must not be negative, got %d", o.workers)
	}
	if o.maxProblems < 1 {
		return usagef("--max-problems must be at least 1, got %d", o.maxProblems)
	}
	return nil
}

func runVerify(ctx context.Context, e *env, args []string) error {
	var opts verifyOptions
	const usage = "[flags] DIR"
	const summary = "verify checks an ElectionGuard 0.95 election record folder (as `tallyq export` writes it) with its\n" +
		"own implementation of every check: the context's hashes and joint key, the guardians' key proofs,\n" +
		"every ballot's proofs, hashes and tracking-code chain, that the encrypted tally is the product of\n" +
		"the cast ballots, and the decryption of the tally and every spoiled ballot (share proofs,\n" +
		"compensated shares, recovery keys, reconstruction, Lagrange coefficients, counts). Ballots in\n" +
		"invalid_ballots/ are reported and not counted. It exits 1 and lists the problems when any check fails."
	dir, flags, err := folderArg(args, opts.register)
	if err != nil {
		return err
	}
	opts.dir = dir
	if err := parseOptions(e, flags, "verify", usage, summary, &opts); err != nil {
		return err
	}
	report, err := verify.Dir(ctx, opts.dir, verify.Options{Workers: opts.workers, MaxProblems: opts.maxProblems})
	if err != nil {
		return err
	}
	for _, w := range report.Warnings {
		fmt.Fprintf(e.stderr, "warning: %s\n", w)
	}
	if err := report.Err(); err != nil {
		return fmt.Errorf("%s: %w", opts.dir, err)
	}
	fmt.Fprintf(e.stdout, "%s: the election record verifies: %s\n", opts.dir, report.Summary())
	return nil
}

// positionalArgs separates the arguments that are not flags (such as a folder) from
// the flags and their values, which may stand before or after them. define registers
// the command's flags, so that a flag's value is told from a positional argument.
func positionalArgs(args []string, define func(fs *flagSet)) (positional, flags []string) {
	fs := newFlagSet("", "", "")
	define(fs)
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(positional, args[i+1:]...), flags
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil || isBoolFlag(f) || i+1 == len(args) {
			continue // an unknown flag is reported by the real parse
		}
		i++
		flags = append(flags, args[i])
	}
	return positional, flags
}

// folderArg returns the one folder among args ("" when there is none) and the flags,
// or a usage error when there are several.
func folderArg(args []string, define func(fs *flagSet)) (dir string, flags []string, err error) {
	dirs, flags := positionalArgs(args, define)
	switch len(dirs) {
	case 0:
		return "", flags, nil
	case 1:
		return dirs[0], flags, nil
	}
	return "", nil, usagef("give one folder, not %d: %s", len(dirs), strings.Join(dirs, " "))
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}
