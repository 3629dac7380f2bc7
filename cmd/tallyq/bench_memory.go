package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/bench"
)

// intList is a flag of comma-separated positive integers.
type intList []int

func (l *intList) String() string {
	return join(*l, ",", strconv.Itoa)
}

func (l *intList) Set(s string) error {
	var out intList
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(strings.ReplaceAll(f, "_", "")))
		if err != nil || n < 1 {
			return fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	*l = out
	return nil
}

// tallyqBinary is the --tallyq flag: the binary that runs the scenarios'
// worker and server processes.
type tallyqBinary struct{ path string }

func (o *tallyqBinary) register(fs *flagSet) {
	fs.StringEnv(&o.path, "tallyq", "TALLYQ_BENCH_TALLYQ", "", "the tallyq `binary` that runs the worker or server processes (default: this one)")
}

// processes starts the binary on the database, its output to e.stderr.
func (o *tallyqBinary) processes(e *env, databaseURL string) bench.Processes {
	return bench.Processes{Tallyq: o.path, DatabaseURL: databaseURL, Output: e.stderr}
}

func (o *tallyqBinary) validate() error {
	if o.path == "" {
		self, err := os.Executable()
		if err != nil {
			return usagef("cannot find this binary (%v); name one with --tallyq", err)
		}
		o.path = self
	}
	return nil
}

// memoryBenchOptions are the flags of `tallyq bench memory`.
type memoryBenchOptions struct {
	benchCommon
	pool         poolBenchOptions
	sizes        intList
	chunkSizes   intList
	spoiled      int
	tallyq       tallyqBinary
	concurrency  int
	memoryBudget byteSize
	gcPercent    int
}

func (o *memoryBenchOptions) register(fs *flagSet) {
	o.benchCommon.register(fs)
	o.pool.register(fs)
	o.sizes = intList{1_000, 10_000, 100_000}
	fs.VarEnv(&o.sizes, "sizes", "TALLYQ_BENCH_SIZES", "election `sizes` in ballots, comma-separated")
	o.chunkSizes = intList{50, 500, 5_000}
	fs.VarEnv(&o.chunkSizes, "chunk-sizes", "TALLYQ_BENCH_CHUNK_SIZES", "tally chunk `sizes`, comma-separated")
	fs.IntEnv(&o.spoiled, "spoiled", "TALLYQ_BENCH_SPOILED", 0, "spoiled ballots of each election (so that bench pipeline --reuse can take the largest)")
	o.tallyq.register(fs)
	fs.IntEnv(&o.concurrency, "concurrency", "TALLYQ_CONCURRENCY", runtime.NumCPU(), "the worker process's --concurrency (default: the number of CPUs)")
	o.memoryBudget = defaultMemoryBudget
	fs.VarEnv(&o.memoryBudget, "memory-budget", "TALLYQ_MEMORY_BUDGET", "the worker process's --memory-budget `size`")
	fs.IntEnv(&o.gcPercent, "gc-percent", "TALLYQ_GC_PERCENT", defaultWorkerGCPercent, "the worker process's --gc-percent (0: the Go runtime's own)")
}

func (o *memoryBenchOptions) validate() error {
	if o.concurrency < 1 {
		return usagef("--concurrency must be at least 1, got %d", o.concurrency)
	}
	if o.spoiled < 0 {
		return usagef("--spoiled must not be negative")
	}
	if o.memoryBudget < 0 {
		return usagef("--memory-budget must not be negative")
	}
	if o.gcPercent < 0 {
		return usagef("--gc-percent must not be negative (0: the runtime's own)")
	}
	if err := o.tallyq.validate(); err != nil {
		return err
	}
	if err := o.pool.validate(); err != nil {
		return err
	}
	return o.dbOptions.validate()
}

func (o *memoryBenchOptions) slots() int { return 1 }

func (o *memoryBenchOptions) run(ctx context.Context, e *env, pool *pgxpool.Pool, logger *slog.Logger) (any, error) {
	res, err := bench.RunMemory(ctx, pool, bench.MemoryConfig{Pool: o.pool.config(), Sizes: o.sizes, ChunkSizes: o.chunkSizes, Spoiled: o.spoiled,
		Processes: o.tallyq.processes(e, o.databaseURL), Concurrency: o.concurrency, MemoryBudget: o.memoryBudget.String(), GCPercent: o.gcPercent,
		Logger: logger, Progress: progressTo(e)})
	if err != nil {
		return nil, err
	}
	printMemoryResult(e, res)
	return res, nil
}

func printMemoryResult(e *env, r bench.MemoryResult) {
	c := r.Config
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(e.stdout, "memory benchmark: `tallyq worker --concurrency %d --memory-budget %s --gc-percent %d`, %s-group ballots (pool of %d), verification off, %d CPUs\n",
		c.Concurrency, c.MemoryBudget, c.GCPercent, c.Pool.Group, r.PoolSize, runtime.NumCPU())
	fmt.Fprintf(e.stdout, "postgres %s; fsync=%s synchronous_commit=%s full_page_writes=%s\n",
		r.Postgres["server_version"], r.Postgres["fsync"], r.Postgres["synchronous_commit"], r.Postgres["full_page_writes"])
	fmt.Fprint(w, "worker VmHWM MiB (tally s)\t")
	for _, cs := range c.ChunkSizes {
		fmt.Fprintf(w, "chunks of %d\t", cs)
	}
	fmt.Fprintln(w)
	for i, size := range c.Sizes {
		fmt.Fprintf(w, "%d ballots\t", size)
		for _, run := range r.Runs[i*len(c.ChunkSizes) : (i+1)*len(c.ChunkSizes)] {
			fmt.Fprintf(w, "%.1f (%.1f s)\t", run.VmHWMMiB, run.TallySeconds)
		}
		fmt.Fprintln(w)
	}
	w.Flush()
	fmt.Fprintf(e.stdout, "largest / smallest: %.1f / %.1f MiB = %.2f\n", r.MaxMiB, r.MinMiB, r.Ratio)
}
