package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/tallyq/tallyq/bench"
)

// benchReportName is `tallyq bench report`, which writes BENCHMARKS.md
// from the scenarios' --json file.
const benchReportName = "report"

// benchReportOptions are the flags of `tallyq bench report`.
type benchReportOptions struct {
	jsonPath, out, notes, commit, command string
}

func (o *benchReportOptions) register(fs *flagSet) {
	fs.StringEnv(&o.jsonPath, "json", "TALLYQ_BENCH_JSON", "bench/results.json", "the scenarios' results `file`")
	fs.StringEnv(&o.out, "out", "TALLYQ_BENCH_REPORT", "BENCHMARKS.md", "the Markdown `file` written (- for stdout)")
	fs.StringEnv(&o.notes, "notes", "TALLYQ_BENCH_NOTES", "bench/NOTES.md", "hand-written Markdown `file` appended after the table (absent: none)")
	fs.StringEnv(&o.commit, "commit", "TALLYQ_BENCH_COMMIT", "unknown", "the commit measured")
	fs.StringEnv(&o.command, "command", "TALLYQ_BENCH_COMMAND", "`make bench`", "what produced the results (Markdown)")
}

func (o *benchReportOptions) validate() error {
	if o.jsonPath == "" || o.out == "" {
		return usagef("--json and --out must not be empty")
	}
	return nil
}

func runBenchReport(e *env, args []string) error {
	var o benchReportOptions
	if err := parseOptions(e, args, "bench report", "[flags]",
		"report: write the results of the scenarios (--json) as a Markdown table with the machine, the\nconfiguration, each figure's anchor and ratio, and the weakest ratio against its target.", &o); err != nil {
		return err
	}
	res, err := bench.ReadResults(o.jsonPath)
	if err != nil {
		return err
	}
	notes, err := os.ReadFile(o.notes)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read notes: %w", err)
	}
	var buf bytes.Buffer
	if err := bench.WriteReport(&buf, res, bench.ThisMachine(o.commit, o.command), string(notes)); err != nil {
		return err
	}
	if o.out == "-" {
		_, err := e.stdout.Write(buf.Bytes())
		return err
	}
	if err := os.WriteFile(o.out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", o.out, err)
	}
	return nil
}
