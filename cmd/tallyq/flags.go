package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// flagSet is a flag.FlagSet whose flags fall back to TALLYQ_* environment
// variables: a flag given on the command line wins, then its variable, then
// its default. Each flag's help names its variable.
type flagSet struct {
	*flag.FlagSet
	envNames map[string]string // flag name → environment variable
}

// newFlagSet returns the flag set of the subcommand name ("serve"), whose
// help starts with usage and summary.
func newFlagSet(name, usage, summary string) *flagSet {
	fs := flag.NewFlagSet("tallyq "+name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: tallyq %s %s\n\n%s\n\nFlags (a flag overrides its environment variable, which overrides the default):\n", name, usage, summary)
		fs.PrintDefaults()
	}
	return &flagSet{FlagSet: fs, envNames: map[string]string{}}
}

// bind ties flag name to environment variable env and returns the help text.
func (f *flagSet) bind(name, env, help string) string {
	f.envNames[name] = env
	return fmt.Sprintf("%s [$%s]", help, env)
}

// StringEnv defines a string flag with an environment fallback.
func (f *flagSet) StringEnv(p *string, name, env, def, help string) {
	f.StringVar(p, name, def, f.bind(name, env, help))
}

// IntEnv defines an int flag with an environment fallback.
func (f *flagSet) IntEnv(p *int, name, env string, def int, help string) {
	f.IntVar(p, name, def, f.bind(name, env, help))
}

// DurationEnv defines a duration flag with an environment fallback.
func (f *flagSet) DurationEnv(p *time.Duration, name, env string, def time.Duration, help string) {
	f.DurationVar(p, name, def, f.bind(name, env, help))
}

// VarEnv defines a flag of any flag.Value with an environment fallback;
// v holds the default.
func (f *flagSet) VarEnv(v flag.Value, name, env, help string) {
	f.Var(v, name, f.bind(name, env, help))
}

// parse parses args, then sets each flag not given on the command line from
// its environment variable, if that is set and not empty. For -h it writes
// the help to e.stdout and returns flag.ErrHelp; other errors are
// usageErrors.
func (f *flagSet) parse(args []string, e *env) error {
	f.SetOutput(io.Discard) // errors are reported once, by main
	err := f.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		f.SetOutput(e.stdout)
		f.Usage()
		return err
	}
	if err != nil {
		return usagef("%v; see `%s -h`", err, f.Name())
	}
	if f.NArg() > 0 {
		return usagef("unexpected argument %q; see `%s -h`", f.Arg(0), f.Name())
	}
	return f.applyEnv(e.lookupEnv)
}

// applyEnv sets each flag that was not given from its environment variable.
func (f *flagSet) applyEnv(lookupEnv func(string) (string, bool)) error {
	given := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	for name, env := range f.envNames {
		value, ok := lookupEnv(env)
		if given[name] || !ok || value == "" {
			continue
		}
		if err := f.Set(name, value); err != nil {
			// Only typed flags fail to parse, never the secret strings,
			// so quoting the value reveals nothing.
			return usagef("environment variable %s=%q is not a valid --%s: %w", env, value, name, err)
		}
	}
	return nil
}

// options are a command's flags: register defines them, validate checks
// them once parsed.
type options interface {
	register(fs *flagSet)
	validate() error
}

// parseOptions defines opts on the flag set of command name, parses args
// with their environment fallbacks and validates the result.
func parseOptions(e *env, args []string, name, usage, summary string, opts options) error {
	fs := newFlagSet(name, usage, summary)
	opts.register(fs)
	if err := fs.parse(args, e); err != nil {
		return err
	}
	return opts.validate()
}

// usageError is an error in the command line or environment; main exits
// with status 2 for it.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// isUsageError reports whether err is about the command line.
func isUsageError(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

// levelValue is a log level flag that accepts debug, info, warn or error.
type levelValue struct {
	name  string
	level slog.Level
}

func (v *levelValue) String() string {
	if v == nil {
		return ""
	}
	return v.name
}

func (v *levelValue) Set(s string) error {
	switch strings.ToLower(s) {
	case "debug":
		v.level = slog.LevelDebug
	case "info":
		v.level = slog.LevelInfo
	case "warn", "warning":
		v.level = slog.LevelWarn
	case "error":
		v.level = slog.LevelError
	default:
		return fmt.Errorf("log level %q: use debug, info, warn or error", s)
	}
	v.name = strings.ToLower(s)
	return nil
}

// choiceValue is a string flag restricted to a fixed set of values.
type choiceValue struct {
	value   string
	choices []string
}

func (v *choiceValue) String() string {
	if v == nil {
		return ""
	}
	return v.value
}

func (v *choiceValue) Set(s string) error {
	for _, c := range v.choices {
		if s == c {
			v.value = s
			return nil
		}
	}
	return fmt.Errorf("%q is not one of %s", s, strings.Join(v.choices, ", "))
}
