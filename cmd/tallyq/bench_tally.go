package main

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"text/tabwriter"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/bench"
	"github.com/tallyq/tallyq/jobs/election"
)

// defaultPoolSpoiled is the spoiled ballots of a default pool: a twentieth.
const defaultPoolSpoiled = bench.DefaultPoolSize / 20

// poolBenchOptions are the ballot pool's flags, for the scenarios that
// tally ballots.
type poolBenchOptions struct {
	group    choiceValue
	poolSize int
	spoiled  int
	cacheDir string
}

func (o *poolBenchOptions) register(fs *flagSet) {
	o.group = choiceValue{value: "standard", choices: []string{"standard", "test"}}
	fs.VarEnv(&o.group, "group", "TALLYQ_BENCH_GROUP", "the ballots' `group`: standard (4096-bit) or test (small, for trying things out)")
	fs.IntEnv(&o.poolSize, "pool-size", "TALLYQ_BENCH_POOL_SIZE", bench.DefaultPoolSize,
		"distinct encrypted ballots in the cached pool that elections are relabelled from")
	fs.IntEnv(&o.spoiled, "pool-spoiled", "TALLYQ_BENCH_POOL_SPOILED", defaultPoolSpoiled,
		"how many of the pool's ballots are spoiled (the pipeline's spoiled ballots are copies of them)")
	fs.StringEnv(&o.cacheDir, "cache-dir", "TALLYQ_BENCH_CACHE_DIR", "",
		"`directory` caching ballot pools (default: tallyq/bench in the user's cache directory)")
}

func (o *poolBenchOptions) validate() error {
	if o.poolSize < 1 {
		return usagef("--pool-size must be at least 1, got %d", o.poolSize)
	}
	if o.spoiled < 0 || o.spoiled >= o.poolSize {
		return usagef("--pool-spoiled must be from 0 to --pool-size - 1 (%d), got %d", o.poolSize-1, o.spoiled)
	}
	return nil
}

func (o *poolBenchOptions) config() bench.PoolConfig {
	return bench.PoolConfig{Group: o.group.value, Size: o.poolSize, Spoiled: o.spoiled, CacheDir: o.cacheDir}
}

// progressTo returns a function that prints a scenario's progress to e.stderr.
func progressTo(e *env) func(string) {
	return func(msg string) { fmt.Fprintln(e.stderr, msg) }
}

// tallyBenchOptions are the flags of `tallyq bench tally`.
type tallyBenchOptions struct {
	benchCommon
	pool      poolBenchOptions
	ballots   int
	workers   int
	chunkSize int
	rounds    int
	verified  int
	// verifiedBallots and verifiedChunkSize size the verified rounds' election.
	verifiedBallots, verifiedChunkSize int
}

func (o *tallyBenchOptions) register(fs *flagSet) {
	o.benchCommon.register(fs)
	o.pool.register(fs)
	fs.IntEnv(&o.ballots, "ballots", "TALLYQ_BENCH_BALLOTS", 2000, "ballots in the election")
	fs.IntEnv(&o.workers, "workers", "TALLYQ_BENCH_WORKERS", runtime.NumCPU(),
		"in-process worker slots, and goroutines of the in-memory anchor (default: the number of CPUs)")
	fs.IntEnv(&o.chunkSize, "chunk-size", "TALLYQ_CHUNK_SIZE", election.DefaultChunkSize, "ballots per tally chunk")
	fs.IntEnv(&o.rounds, "rounds", "TALLYQ_BENCH_ROUNDS", 3, "rounds, each the in-memory anchor then the queue, unverified; medians are compared")
	fs.IntEnv(&o.verifiedBallots, "verified-ballots", "TALLYQ_BENCH_VERIFIED_BALLOTS", 300,
		"ballots of the election the verified rounds tally (0: the unverified rounds' election)")
	fs.IntEnv(&o.verifiedChunkSize, "verified-chunk-size", "TALLYQ_BENCH_VERIFIED_CHUNK_SIZE", 20, "ballots per chunk of the verified rounds")
	fs.IntEnv(&o.verified, "verified-rounds", "TALLYQ_BENCH_VERIFIED_ROUNDS", 1, "how many of the rounds also tally verified (0 to --rounds); a verified 4096-bit round takes minutes")
}

func (o *tallyBenchOptions) validate() error {
	if o.ballots < 1 || o.workers < 1 || o.chunkSize < 1 || o.rounds < 1 {
		return usagef("--ballots, --workers, --chunk-size and --rounds must be positive")
	}
	if o.verifiedBallots < 0 || o.verifiedChunkSize < 1 {
		return usagef("--verified-ballots must not be negative and --verified-chunk-size must be positive")
	}
	if o.verified < 0 || o.verified > o.rounds {
		return usagef("--verified-rounds must be from 0 to --rounds (%d), got %d", o.rounds, o.verified)
	}
	if err := o.pool.validate(); err != nil {
		return err
	}
	return o.dbOptions.validate()
}

func (o *tallyBenchOptions) slots() int { return o.workers }

func (o *tallyBenchOptions) run(ctx context.Context, e *env, pool *pgxpool.Pool, logger *slog.Logger) (any, error) {
	res, err := bench.RunTally(ctx, pool, bench.TallyConfig{Pool: o.pool.config(), Ballots: o.ballots, Workers: o.workers,
		ChunkSize: o.chunkSize, Rounds: o.rounds, VerifiedRounds: o.verified,
		VerifiedBallots: o.verifiedBallots, VerifiedChunkSize: o.verifiedChunkSize, Logger: logger, Progress: progressTo(e)})
	if err != nil {
		return nil, err
	}
	printTallyResult(e, res)
	return res, nil
}

func printTallyResult(e *env, r bench.TallyResult) {
	c := r.Config
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "tally benchmark\t%d %s-group ballots (pool of %d), chunks of %d, %d workers, %d rounds (%d verified), %d CPUs\n",
		c.Ballots, c.Pool.Group, r.PoolSize, c.ChunkSize, c.Workers, c.Rounds, c.VerifiedRounds, runtime.NumCPU())
	printPostgres(w, r.Postgres)
	fmt.Fprintf(w, "ingest\t%.1f s (%.0f ballots/s)\n", r.IngestSeconds, float64(c.Ballots)/r.IngestSeconds)
	fmt.Fprintln(w, "ballots/s\tqueue (median)\tin memory (median)\tqueue / in memory\tper worker\tvs seed 5/s/worker\tCPU µs/ballot (this process + Postgres)")
	for _, m := range []struct {
		name string
		r    bench.TallyRates
	}{{"unverified", r.Unverified}, {"verified", r.Verified}} {
		fmt.Fprintf(w, "%s\t%s (%.0f)\t%s (%.0f)\t%.2f\t%.1f\t%.1f×\t%s\n", m.name,
			rates(m.r.QueuePerSec), m.r.QueueMedian, rates(m.r.InMemoryPerSec), m.r.InMemoryMedian,
			m.r.Ratio, m.r.PerWorker, m.r.SeedRatio,
			join(m.r.QueueCPU, ", ", func(c bench.BallotCPU) string { return fmt.Sprintf("%.0f+%.0f", c.SelfMicros, c.PostgresMicros) }))
	}
	fmt.Fprintf(w, "verified in memory, proof by proof\t%s (%.1f); batched proofs %.2f× faster\n", rates1(r.PerProofPerSec), r.PerProofMedian, r.BatchSpeedup)
	if c.VerifiedBallots > 0 {
		fmt.Fprintf(w, "verified rounds\tan election of %d ballots in chunks of %d\n", c.VerifiedBallots, c.VerifiedChunkSize)
	}
	w.Flush()
}
