// Command tallyq runs tallyq: the HTTP API with in-process workers (serve),
// standalone workers (worker) and schema migrations (migrate).
//
// Every flag falls back to a TALLYQ_* environment variable; `tallyq <command> -h`
// lists them with their defaults.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand. Each lives in its own file and adds itself to
// the table in that file's init function.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// commands is the subcommand table, filled by init functions only and read
// afterwards.
var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("tallyq: command " + c.name + " registered twice")
	}
	commands[c.name] = c
}

// env is what a command gets from its process, so tests can supply their own.
type env struct {
	lookupEnv        func(string) (string, bool)
	stdout, stderr   io.Writer
	stderrIsTerminal bool
}

func main() {
	// Commands that serve stop on the first SIGTERM or SIGINT; they restore
	// the default handling then, so a second signal ends the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	go func() {
		<-ctx.Done()
		stop()
	}()
	e := &env{
		lookupEnv:        os.LookupEnv,
		stdout:           os.Stdout,
		stderr:           os.Stderr,
		stderrIsTerminal: isTerminal(os.Stderr),
	}
	code := run(ctx, e, os.Args[1:])
	stop()
	os.Exit(code)
}

// run runs the command named by args[0] and returns the exit status: 0 on
// success, 1 on failure, 2 on a usage error.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(e.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "tallyq: unknown command %q\n\n", args[0])
		printUsage(e.stderr)
		return 2
	}
	err := cmd.run(ctx, e, args[1:])
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case isUsageError(err):
		fmt.Fprintf(e.stderr, "tallyq %s: %v\n", cmd.name, err)
		return 2
	default:
		fmt.Fprintf(e.stderr, "tallyq %s: %v\n", cmd.name, err)
		return 1
	}
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: tallyq <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-10s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w, "\nRun `tallyq <command> -h` for a command's flags and their TALLYQ_* environment variables.")
}

// isTerminal reports whether f is a terminal (a character device).
func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
