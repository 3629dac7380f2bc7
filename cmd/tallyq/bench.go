package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"

	"github.com/tallyq/tallyq/bench"
	"github.com/tallyq/tallyq/migrations"
)

func init() {
	register(&command{
		name:    "bench",
		summary: "run a benchmark scenario against its anchor in the same run (queue)",
		run:     runBench,
	})
}

// benchOptions are the flags of `tallyq bench`.
type benchOptions struct {
	dbOptions
	scenario     string
	chunks       int
	workers      int
	rounds       int
	createChunks int
	jsonPath     string
}

func (o *benchOptions) register(fs *flagSet) {
	o.dbOptions.register(fs)
	fs.IntEnv(&o.chunks, "chunks", "TALLYQ_BENCH_CHUNKS", 20_000, "no-op chunks (and raw River jobs) per round")
	fs.IntEnv(&o.workers, "workers", "TALLYQ_BENCH_WORKERS", 200, "worker count of both the broker and raw River")
	fs.IntEnv(&o.rounds, "rounds", "TALLYQ_BENCH_ROUNDS", 3, "rounds, alternating raw River and the broker; the medians are compared")
	fs.IntEnv(&o.createChunks, "create-chunks", "TALLYQ_BENCH_CREATE_CHUNKS", 100_000, "size of the job whose creation is timed (0: skip)")
	fs.StringEnv(&o.jsonPath, "json", "TALLYQ_BENCH_JSON", "", "also write the result as JSON to this `file`")
}

func (o *benchOptions) validate() error {
	if o.scenario != "queue" {
		return usagef("unknown scenario %q; the scenarios are: queue", o.scenario)
	}
	if o.chunks < 1 || o.workers < 1 || o.rounds < 1 || o.createChunks < 0 {
		return usagef("--chunks, --workers and --rounds must be positive and --create-chunks not negative")
	}
	return o.dbOptions.validate()
}

func runBench(ctx context.Context, e *env, args []string) error {
	var opts benchOptions
	flags, scenario, err := splitWord(args, "queue")
	if err != nil {
		return err
	}
	opts.scenario = scenario
	if err := parseOptions(e, flags, "bench", "[flags] queue",
		"queue: no-op chunks per second through the River broker with exact progress, next to raw\nRiver no-op jobs per second on the same database in the same run, and their ratio; and\nthe time to create a large job. Run it on a database that serves nothing else.",
		&opts); err != nil {
		return err
	}
	logger := opts.logger(e)
	pool, err := connect(ctx, opts.databaseURL, opts.workers, logger)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := migrations.New(pool).Check(ctx); err != nil {
		return err
	}
	res, err := bench.RunQueue(ctx, pool, bench.QueueConfig{
		Chunks: opts.chunks, Workers: opts.workers, Rounds: opts.rounds, CreateChunks: opts.createChunks, Logger: logger,
	})
	if err != nil {
		return fmt.Errorf("queue benchmark: %w", err)
	}
	printQueueResult(e, res)
	if opts.jsonPath != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(opts.jsonPath, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", opts.jsonPath, err)
		}
	}
	return nil
}

func printQueueResult(e *env, r bench.QueueResult) {
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "queue benchmark\t%d chunks/round, %d workers, %d rounds, %d CPUs\n", r.Config.Chunks, r.Config.Workers, r.Config.Rounds, runtime.NumCPU())
	fmt.Fprintf(w, "postgres\t%s; fsync=%s synchronous_commit=%s full_page_writes=%s\n",
		r.Postgres["server_version"], r.Postgres["fsync"], r.Postgres["synchronous_commit"], r.Postgres["full_page_writes"])
	fmt.Fprintf(w, "raw River no-op jobs/s\t%s (median %.0f)\n", rates(r.RawRiverPerSec), r.RawRiverMedian)
	fmt.Fprintf(w, "River broker chunks/s, exact progress\t%s (median %.0f)\n", rates(r.BrokerPerSec), r.BrokerMedian)
	fmt.Fprintf(w, "ratio broker / raw River\t%.2f\n", r.Ratio)
	fmt.Fprintf(w, "CPU µs per chunk (this process + Postgres)\traw River %s; broker %s\n", cpuCosts(r.RawRiverCPU), cpuCosts(r.BrokerCPU))
	if r.Config.CreateChunks > 0 {
		fmt.Fprintf(w, "create a %d-chunk job\t%.2f s (%.0f chunks/s)\n", r.Config.CreateChunks, r.CreateSeconds, r.CreateChunksPer)
	}
	w.Flush()
}

func cpuCosts(cs []bench.CPUCost) string {
	return join(cs, ", ", func(c bench.CPUCost) string { return fmt.Sprintf("%.0f+%.0f", c.SelfMicros, c.PostgresMicros) })
}

func rates(xs []float64) string {
	return join(xs, " ", func(x float64) string { return fmt.Sprintf("%.0f", x) })
}

// join formats each element of xs and joins them with sep.
func join[T any](xs []T, sep string, format func(T) string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = format(x)
	}
	return strings.Join(parts, sep)
}
