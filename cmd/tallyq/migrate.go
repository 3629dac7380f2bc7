package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tallyq/tallyq/migrations"
)

func init() {
	register(&command{
		name:    "migrate",
		summary: "apply (up), revert (down) or show (version) the database schema",
		run:     runMigrate,
	})
}

// migrateOptions are the flags and the action of `tallyq migrate`.
type migrateOptions struct {
	dbOptions
	action string
	yes    bool
}

func (o *migrateOptions) register(fs *flagSet) {
	o.dbOptions.register(fs)
	fs.BoolVar(&o.yes, "yes", false, "confirm \"migrate down\", which deletes every job and result")
}

func (o *migrateOptions) validate() error {
	if o.action == "" {
		return usagef("say up, down or version; see `tallyq migrate -h`")
	}
	if err := o.dbOptions.validate(); err != nil {
		return err
	}
	if o.action == "down" && !o.yes {
		return usagef("`migrate down` deletes every job and result; add --yes to confirm")
	}
	return nil
}

func runMigrate(ctx context.Context, e *env, args []string) error {
	var opts migrateOptions
	flags, action, err := splitWord(args, "up", "down", "version")
	if err != nil {
		return err
	}
	opts.action = action
	if err := parseOptions(e, flags, "migrate", "[flags] up|down|version",
		"up applies River's and tallyq's migrations; down reverts them all, deleting every job\n(it asks for --yes); version prints the applied and known schema versions.",
		&opts); err != nil {
		return err
	}
	logger := opts.logger(e)
	pool, err := connect(ctx, opts.databaseURL, 0, 0, logger)
	if err != nil {
		return err
	}
	defer pool.Close()
	m := migrations.New(pool)
	switch opts.action {
	case "up":
		if err := m.Up(ctx); err != nil {
			return err
		}
		logger.Info("schema is current")
		return printVersion(ctx, e, m)
	case "down":
		if err := m.Down(ctx); err != nil {
			return err
		}
		logger.Info("schema removed")
		return nil
	default:
		return printVersion(ctx, e, m)
	}
}

// splitWord separates the one word of args that is among words (the
// action or scenario of a command) from the flags, which may stand before
// or after it. It returns "" for the word when there is none.
func splitWord(args []string, words ...string) (flags []string, word string, err error) {
	for _, a := range args {
		if !slices.Contains(words, a) {
			flags = append(flags, a)
			continue
		}
		if word != "" {
			return nil, "", usagef("give one of %s, not %s and %s", strings.Join(words, ", "), word, a)
		}
		word = a
	}
	return flags, word, nil
}

// printVersion prints the schema versions and whether they are current.
func printVersion(ctx context.Context, e *env, m *migrations.Migrator) error {
	v, err := m.Version(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "tallyq schema: %d (this binary: %d)%s\n", v.Tallyq, v.TallyqLatest, dirtyNote(v.Dirty))
	fmt.Fprintf(e.stdout, "River schema:  %d (this binary: %d)\n", v.River, v.RiverLatest)
	switch err := m.Check(ctx); {
	case err == nil:
		fmt.Fprintln(e.stdout, "current: yes")
	case errors.Is(err, migrations.ErrNotCurrent):
		fmt.Fprintf(e.stdout, "current: no (%v)\n", err)
	default:
		return err
	}
	return nil
}

func dirtyNote(dirty bool) string {
	if dirty {
		return ", dirty: a migration failed halfway"
	}
	return ""
}
