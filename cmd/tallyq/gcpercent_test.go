package main

import (
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tallyq/tallyq/eg"
	"github.com/tallyq/tallyq/eg/record"
	"github.com/tallyq/tallyq/internal/fixtures"
)

func TestWorkerGCPercent(t *testing.T) {
	parse := func(vars map[string]string, args ...string) (workerOptions, error) {
		var opts workerOptions
		fs := newFlagSet("worker", "[flags]", "test")
		opts.register(fs)
		vars["TALLYQ_DATABASE_URL"] = "postgres://localhost/tallyq"
		e, _, _ := testEnv(vars)
		if err := fs.parse(args, e); err != nil {
			return opts, err
		}
		return opts, opts.validate()
	}
	for _, tc := range []struct {
		vars map[string]string
		args []string
		want int
	}{
		{map[string]string{}, nil, defaultWorkerGCPercent},
		{map[string]string{"TALLYQ_GC_PERCENT": "80"}, nil, 80},
		{map[string]string{"TALLYQ_GC_PERCENT": "80"}, []string{"--gc-percent", "0"}, 0},
	} {
		opts, err := parse(tc.vars, tc.args...)
		if err != nil || opts.gcPercent != tc.want {
			t.Errorf("%v %v: gc percent %d (%v), want %d", tc.vars, tc.args, opts.gcPercent, err, tc.want)
		}
	}
	if _, err := parse(map[string]string{}, "--gc-percent", "-1"); err == nil || !strings.Contains(err.Error(), "--gc-percent") {
		t.Errorf("--gc-percent -1: err = %v, want one naming --gc-percent", err)
	}
}

// BenchmarkWorkerGCPercent is the CPU cost of a worker's --gc-percent default against
// Go's 100: the small fixture's 4096-bit stored ballots tallied on two goroutines (a
// worker's default --concurrency here) as a tally chunk does it, verified (decoded in
// full, validated in batches, added to a Tally) and unverified (record.ViewDecoder into
// a record.TallyBuffer), alternating the two GC targets in the same run. It reports the
// process CPU per ballot under each target and the ratio default/100 per kind.
func BenchmarkWorkerGCPercent(b *testing.B) {
	e, stored := storedFixtureBallots(b)
	verified := func() {
		tally := e.NewTally()
		var ballots []*record.SubmittedBallot
		for _, data := range stored {
			ballot, err := record.DecodeCompact(e.Group, data)
			if err != nil {
				b.Fatal(err)
			}
			ballots = append(ballots, ballot)
		}
		for i, err := range e.ValidateBallots(ballots) {
			if err == nil {
				err = tally.Add(ballots[i])
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	unverified := func() {
		d, buf := record.NewViewDecoder(e.Group), e.NewTallyBuffer()
		for range 20 { // as many ballots as a verified round takes time, roughly
			for _, data := range stored {
				v, err := d.Decode(data)
				if err == nil {
					err = buf.Add(v)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	type run struct {
		kind    string
		percent int
	}
	cpu := map[run]time.Duration{}
	for b.Loop() {
		for _, percent := range []int{100, defaultWorkerGCPercent} {
			debug.SetGCPercent(percent)
			cpu[run{"verified", percent}] += onTwoGoroutines(verified)
			cpu[run{"unverified", percent}] += onTwoGoroutines(unverified)
		}
	}
	perBallot := map[string]float64{"verified": float64(2 * len(stored) * b.N), "unverified": float64(2 * 20 * len(stored) * b.N)}
	for _, kind := range []string{"verified", "unverified"} {
		base, def := cpu[run{kind, 100}], cpu[run{kind, defaultWorkerGCPercent}]
		b.ReportMetric(float64(base.Microseconds())/perBallot[kind], kind+"-cpu-µs/ballot-gogc100")
		b.ReportMetric(float64(def.Microseconds())/perBallot[kind], kind+"-cpu-µs/ballot-default")
		b.ReportMetric(float64(def)/float64(base), kind+"-cpu-default/gogc100")
	}
}

// onTwoGoroutines runs f on two goroutines and returns the CPU time the process used
// meanwhile (GC included).
func onTwoGoroutines(f func()) time.Duration {
	start := processCPU()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(f)
	}
	wg.Wait()
	return processCPU() - start
}

// processCPU is the CPU time this process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// storedFixtureBallots is the small fixture's election and its ballots as the tally
// reads them from the database (compact).
func storedFixtureBallots(b *testing.B) (*record.Election, [][]byte) {
	f := record.OpenFolder(fixtures.Record(b, "small"))
	m, err := f.Manifest()
	if err != nil {
		b.Fatal(err)
	}
	ctx, err := f.Context()
	if err != nil {
		b.Fatal(err)
	}
	e, err := record.NewElection(eg.Standard(), m, ctx)
	if err != nil {
		b.Fatal(err)
	}
	var stored [][]byte
	for ballot, err := range f.SubmittedBallots() {
		if err != nil {
			b.Fatal(err)
		}
		data, err := record.EncodeCompact(e.Group, ballot)
		if err != nil {
			b.Fatal(err)
		}
		stored = append(stored, data)
	}
	return e, stored
}
