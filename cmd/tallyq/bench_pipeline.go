package main

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/bench"
	"github.com/tallyq/tallyq/jobs/election"
)

// pipelineRabbitMQKey is the key of `bench pipeline --broker rabbitmq`'s
// result in the --json file, beside the River result under "pipeline".
const pipelineRabbitMQKey = "pipeline-rabbitmq"

// brokerChoice is the --broker and --amqp-url flags of a scenario that runs
// on either broker.
type brokerChoice struct {
	broker  choiceValue
	amqpURL string
}

func (o *brokerChoice) register(fs *flagSet) {
	o.broker = choiceValue{value: "river", choices: []string{"river", "rabbitmq"}}
	fs.VarEnv(&o.broker, "broker", "TALLYQ_BROKER", "`broker` the jobs run on: river or rabbitmq (the node of --amqp-url)")
	fs.StringEnv(&o.amqpURL, "amqp-url", "TALLYQ_AMQP_URL", "", "RabbitMQ URL with credentials, for --broker rabbitmq")
}

func (o *brokerChoice) validate() error {
	if o.broker.value == "rabbitmq" && o.amqpURL == "" {
		return usagef("--broker rabbitmq needs --amqp-url or TALLYQ_AMQP_URL")
	}
	return nil
}

// url is the AMQP URL of the chosen broker, "" for River.
func (o *brokerChoice) url() string {
	if o.broker.value == "rabbitmq" {
		return o.amqpURL
	}
	return ""
}

// pipelineBenchOptions are the flags of `tallyq bench pipeline`.
type pipelineBenchOptions struct {
	benchCommon
	pool      poolBenchOptions
	brokers   brokerChoice
	ballots   int
	spoiled   int
	missing   int
	workers   int
	chunkSize int
	reuse     bool
}

func (o *pipelineBenchOptions) register(fs *flagSet) {
	o.benchCommon.register(fs)
	o.pool.register(fs)
	o.brokers.register(fs)
	fs.IntEnv(&o.ballots, "ballots", "TALLYQ_BENCH_BALLOTS", 100_000, "ballots in the election")
	fs.IntEnv(&o.spoiled, "spoiled", "TALLYQ_BENCH_SPOILED", 100, "how many of them are spoiled")
	fs.IntEnv(&o.missing, "missing", "TALLYQ_BENCH_MISSING", 2, "guardians that do not decrypt (compensated for)")
	fs.IntEnv(&o.workers, "workers", "TALLYQ_BENCH_WORKERS", runtime.NumCPU(), "in-process worker slots (default: the number of CPUs)")
	fs.IntEnv(&o.chunkSize, "chunk-size", "TALLYQ_CHUNK_SIZE", election.DefaultChunkSize, "ballots per tally chunk")
	fs.BoolVar(&o.reuse, "reuse", false, "take an election of this size and spoiled count that an earlier scenario made from the same pool (bench memory --spoiled), when there is one, instead of ingesting")
}

func (o *pipelineBenchOptions) validate() error {
	if o.ballots < 1 || o.workers < 1 || o.chunkSize < 1 || o.missing < 0 || o.spoiled < 0 || o.spoiled > o.ballots {
		return usagef("--ballots, --workers and --chunk-size must be positive, --missing not negative, --spoiled from 0 to --ballots")
	}
	return firstErr(o.pool.validate(), o.brokers.validate(), o.dbOptions.validate())
}

// firstErr returns the first non-nil error.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (o *pipelineBenchOptions) slots() int { return o.workers + 4 }

func (o *pipelineBenchOptions) jsonKey() string {
	if o.brokers.broker.value == "rabbitmq" {
		return pipelineRabbitMQKey
	}
	return "pipeline"
}

func (o *pipelineBenchOptions) run(ctx context.Context, e *env, pool *pgxpool.Pool, logger *slog.Logger) (any, error) {
	res, err := bench.RunPipeline(ctx, pool, bench.PipelineConfig{Pool: o.pool.config(), Ballots: o.ballots, Spoiled: o.spoiled,
		Missing: o.missing, Workers: o.workers, ChunkSize: o.chunkSize, Reuse: o.reuse, AMQPURL: o.brokers.url(), Logger: logger, Progress: progressTo(e)})
	if err != nil {
		return nil, err
	}
	printPipelineResult(e, res)
	return res, nil
}

func printPipelineResult(e *env, r bench.PipelineResult) {
	c := r.Config
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "pipeline benchmark\t%d %s-group ballots (%d spoiled; pool of %d), %s broker, %d guardians, quorum %d, %d missing, chunks of %d, %d workers, %d CPUs\n",
		c.Ballots, c.Pool.Group, c.Spoiled, r.PoolSize, r.Broker, r.Guardians, r.Quorum, c.Missing, c.ChunkSize, c.Workers, runtime.NumCPU())
	printPostgres(w, r.Postgres)
	if r.Reused {
		fmt.Fprintln(w, "ingest\treused an earlier scenario's election")
	} else {
		fmt.Fprintf(w, "ingest (checked copies, not timed as pipeline)\t%.1f s\n", r.IngestSeconds)
	}
	fmt.Fprintf(w, "tally (unverified, %d chunks)\t%.1f s\n", r.TallyChunks, r.TallySeconds)
	fmt.Fprintf(w, "decryptions\t%s s\n", join(r.DecryptionSeconds, ", ", tenths))
	fmt.Fprintf(w, "compensation, combine\t%.1f s, %.1f s\n", r.CompensationSeconds, r.CombineSeconds)
	fmt.Fprintf(w, "whole pipeline after ingest\t%.1f s\n", r.TotalSeconds)
	x := r.Exps
	fmt.Fprintf(w, "exponentiations counted\tdecryptions %d + combine %d = %d (tally %d)\n", x.Decryption, x.Combine, x.Measured, x.Tally)
	fmt.Fprintf(w, "per-chunk decryption needs\t(%d chunks × %d selections + %d spoiled selections) × %d shares = %d\n",
		r.TallyChunks, x.TallySelections, x.SpoiledSelections, r.Guardians*r.Guardians, x.PerChunk)
	fmt.Fprintf(w, "ratio per-chunk / counted\t%.2f (one exponentiation per share, proofs not counted)\n", x.Ratio)
	fmt.Fprintf(w, "at our cost per share\t%d shares, %.1f exponentiations each: per-chunk %d, ratio %.2f\n", x.Shares, x.PerShare, x.PerChunkAtOurCost, x.RatioAtOurCost)
	w.Flush()
}

// workerProcessOptions are the flags of the scenarios that start tallyq
// processes.
type workerProcessOptions struct {
	benchCommon
	pool   poolBenchOptions
	tallyq tallyqBinary
}

func (o *workerProcessOptions) register(fs *flagSet) {
	o.benchCommon.register(fs)
	o.pool.register(fs)
	o.tallyq.register(fs)
}

func (o *workerProcessOptions) validate() error {
	return firstErr(o.tallyq.validate(), o.pool.validate(), o.dbOptions.validate())
}

func (o *workerProcessOptions) slots() int { return 4 }

// scaleBenchOptions are the flags of `tallyq bench scale`.
type scaleBenchOptions struct {
	workerProcessOptions
	ballots   int
	chunkSize int
	processes int
	rounds    int
}

func (o *scaleBenchOptions) register(fs *flagSet) {
	o.workerProcessOptions.register(fs)
	fs.IntEnv(&o.ballots, "ballots", "TALLYQ_BENCH_BALLOTS", 300, "ballots in the verified election")
	fs.IntEnv(&o.chunkSize, "chunk-size", "TALLYQ_CHUNK_SIZE", 10, "ballots per tally chunk")
	fs.IntEnv(&o.processes, "processes", "TALLYQ_BENCH_PROCESSES", 2, "worker processes of the scaled run, each --concurrency 1")
	fs.IntEnv(&o.rounds, "rounds", "TALLYQ_BENCH_ROUNDS", 1, "rounds, each one process then --processes; medians are compared")
}

func (o *scaleBenchOptions) validate() error {
	if o.ballots < 1 || o.chunkSize < 1 || o.processes < 1 || o.rounds < 1 {
		return usagef("--ballots, --chunk-size, --processes and --rounds must be positive")
	}
	return o.workerProcessOptions.validate()
}

func (o *scaleBenchOptions) run(ctx context.Context, e *env, pool *pgxpool.Pool, logger *slog.Logger) (any, error) {
	res, err := bench.RunScale(ctx, pool, bench.ScaleConfig{Pool: o.pool.config(), Ballots: o.ballots, ChunkSize: o.chunkSize,
		Scaled: o.processes, Rounds: o.rounds, Processes: o.tallyq.processes(e, o.databaseURL), Logger: logger, Progress: progressTo(e)})
	if err != nil {
		return nil, err
	}
	c := res.Config
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "scale benchmark\tverified tally of %d %s-group ballots (pool of %d), chunks of %d, `tallyq worker --concurrency 1` processes, %d rounds, %d CPUs\n",
		c.Ballots, c.Pool.Group, res.PoolSize, c.ChunkSize, c.Rounds, runtime.NumCPU())
	printPostgres(w, res.Postgres)
	fmt.Fprintf(w, "1 process, ballots/s\t%s (median %.1f)\n", rates1(res.OnePerSec), res.OneMedian)
	fmt.Fprintf(w, "%d processes, ballots/s\t%s (median %.1f)\n", c.Scaled, rates1(res.ManyPerSec), res.ManyMedian)
	fmt.Fprintf(w, "speedup\t%.2f\n", res.Speedup)
	w.Flush()
	return res, nil
}

func rates1(xs []float64) string {
	return join(xs, " ", func(x float64) string { return fmt.Sprintf("%.1f", x) })
}

// apiBenchOptions are the flags of `tallyq bench api`.
type apiBenchOptions struct {
	workerProcessOptions
	ballots   int
	chunkSize int
	workers   int
	pollers   int
	interval  time.Duration
	idle      time.Duration
}

func (o *apiBenchOptions) register(fs *flagSet) {
	o.workerProcessOptions.register(fs)
	fs.IntEnv(&o.ballots, "ballots", "TALLYQ_BENCH_BALLOTS", 300, "ballots of the verified tally that runs while the pollers poll")
	fs.IntEnv(&o.chunkSize, "chunk-size", "TALLYQ_CHUNK_SIZE", 10, "ballots per tally chunk")
	fs.IntEnv(&o.workers, "workers", "TALLYQ_WORKERS", runtime.NumCPU(), "the server's --workers (default: the number of CPUs)")
	fs.IntEnv(&o.pollers, "pollers", "TALLYQ_BENCH_POLLERS", 200, "concurrent pollers of the job's status")
	fs.DurationEnv(&o.interval, "poll-interval", "TALLYQ_BENCH_POLL_INTERVAL", 2*time.Second, "each poller's interval (the web page polls every 2s)")
	fs.DurationEnv(&o.idle, "idle", "TALLYQ_BENCH_IDLE", 10*time.Second, "how long the anchor polls with no job running")
}

func (o *apiBenchOptions) validate() error {
	if o.ballots < 1 || o.chunkSize < 1 || o.workers < 1 || o.pollers < 1 || o.interval <= 0 || o.idle <= 0 {
		return usagef("--ballots, --chunk-size, --workers, --pollers, --poll-interval and --idle must be positive")
	}
	return o.workerProcessOptions.validate()
}

func (o *apiBenchOptions) run(ctx context.Context, e *env, pool *pgxpool.Pool, logger *slog.Logger) (any, error) {
	res, err := bench.RunAPI(ctx, pool, bench.APIConfig{Pool: o.pool.config(), Ballots: o.ballots, ChunkSize: o.chunkSize,
		Workers: o.workers, Pollers: o.pollers, Interval: o.interval, Idle: o.idle,
		Processes: o.tallyq.processes(e, o.databaseURL), Logger: logger, Progress: progressTo(e)})
	if err != nil {
		return nil, err
	}
	c := res.Config
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "api benchmark\t%d pollers every %s of GET /api/jobs/{id}/status on `tallyq serve --workers %d`, %d CPUs\n",
		c.Pollers, c.Interval, c.Workers, runtime.NumCPU())
	printPostgres(w, res.Postgres)
	for _, p := range []struct {
		name string
		l    bench.Latency
	}{{fmt.Sprintf("while the server's workers tally %d ballots, verified (%.1f s)", c.Ballots, res.JobSeconds), res.Busy},
		{fmt.Sprintf("while a separate worker process tallies them (%.1f s; serve --workers 0)", res.SeparateJobSeconds), res.Separate},
		{"idle (anchor)", res.Idle}} {
		fmt.Fprintf(w, "%s\t%d requests, p50 %.1f ms, p99 %.1f ms, max %.1f ms, %d errors %s\n",
			p.name, p.l.Requests, p.l.P50Ms, p.l.P99Ms, p.l.MaxMs, p.l.Errors, p.l.FirstError)
	}
	fmt.Fprintf(w, "p99 ratio busy / idle\t%.2f in-process workers, %.2f separate worker process\n", res.Ratio, res.SeparateRatio)
	w.Flush()
	return res, nil
}

// createBenchOptions are the flags of `tallyq bench create`.
type createBenchOptions struct {
	benchCommon
	chunks int
}

func (o *createBenchOptions) register(fs *flagSet) {
	o.benchCommon.register(fs)
	fs.IntEnv(&o.chunks, "chunks", "TALLYQ_BENCH_CHUNKS", 1_000_000, "chunks of the job created")
}

func (o *createBenchOptions) validate() error {
	if o.chunks < 1 {
		return usagef("--chunks must be positive")
	}
	return o.dbOptions.validate()
}

func (o *createBenchOptions) slots() int { return 2 }

func (o *createBenchOptions) run(ctx context.Context, e *env, pool *pgxpool.Pool, logger *slog.Logger) (any, error) {
	res, err := bench.RunCreate(ctx, pool, bench.CreateConfig{Chunks: o.chunks, Logger: logger})
	if err != nil {
		return nil, err
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "create benchmark\ta %d-chunk no-op job, %d CPUs\n", o.chunks, runtime.NumCPU())
	printPostgres(w, res.Postgres)
	fmt.Fprintf(w, "engine CreateJob\t%.2f s (%d River jobs for the %d chunks of its first window)\n", res.CreateSeconds, res.Enqueued, res.EnqueuedChunks)
	fmt.Fprintf(w, "raw River insert of a job per chunk (anchor)\t%.2f s\n", res.RawRiverSeconds)
	fmt.Fprintf(w, "ratio raw / engine\t%.2f\n", res.Ratio)
	fmt.Fprintf(w, "this process's memory\t%.1f MiB before, peak (VmHWM) %.1f MiB after the create\n", res.StartRSSMiB, res.VmHWMMiB)
	w.Flush()
	return res, nil
}
