package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyq/tallyq/bench"
	"github.com/tallyq/tallyq/internal/pgserver"
)

// defaultChaosMaxAttempts leaves a chunk of several seconds, which one
// kill in four cuts short, a chance of one in millions of failing by kills
// alone. At the deployment default of 5, a 20,000-ballot run (309 combine
// chunks of seconds each; one took 4 attempts) would fail by kills alone
// about one time in two, by that estimate.
const defaultChaosMaxAttempts = 10

// chaosBenchOptions are the flags of `tallyq bench chaos`.
type chaosBenchOptions struct {
	workerProcessOptions
	brokers     brokerChoice
	ballots     int
	spoiled     int
	verify      bool
	missing     int
	chunkSize   int
	workers     int
	killMin     time.Duration
	killMax     time.Duration
	downtime    time.Duration
	lease       time.Duration
	maxAttempts int
	stall       time.Duration
	postgresDir string
	rabbitDir   string
	workerLog   string
}

func (o *chaosBenchOptions) register(fs *flagSet) {
	o.workerProcessOptions.register(fs)
	o.brokers.register(fs)
	fs.IntEnv(&o.ballots, "ballots", "TALLYQ_BENCH_BALLOTS", 20_000, "ballots in the election")
	fs.IntEnv(&o.spoiled, "spoiled", "TALLYQ_BENCH_SPOILED", 100, "how many of them are spoiled (each is a decryption chunk)")
	fs.BoolVar(&o.verify, "verify", false, "have the tally check every ballot's proofs (about 100 times the work of an unverified ballot)")
	fs.IntEnv(&o.missing, "missing", "TALLYQ_BENCH_MISSING", 2, "guardians that do not decrypt (compensated for)")
	fs.IntEnv(&o.chunkSize, "chunk-size", "TALLYQ_CHUNK_SIZE", 10, "ballots per tally chunk")
	fs.IntEnv(&o.workers, "workers", "TALLYQ_BENCH_WORKERS", 4, "`tallyq worker --concurrency 1` processes")
	fs.DurationEnv(&o.killMin, "kill-min", "TALLYQ_CHAOS_KILL_MIN", 2*time.Second, "shortest pause between two worker kills")
	fs.DurationEnv(&o.killMax, "kill-max", "TALLYQ_CHAOS_KILL_MAX", 5*time.Second, "longest pause between two worker kills")
	fs.DurationEnv(&o.downtime, "downtime", "TALLYQ_CHAOS_DOWNTIME", 3*time.Second, "how long a crashed server stays down")
	fs.DurationEnv(&o.lease, "lease", "TALLYQ_LEASE", 5*time.Second, "the workers' --lease: how soon a killed worker's chunk runs again")
	fs.IntEnv(&o.maxAttempts, "max-attempts", "TALLYQ_MAX_ATTEMPTS", defaultChaosMaxAttempts,
		"the workers' --max-attempts: the kills are far denser than any deployment's failures, and a chunk of a few seconds is cut short about once in four tries")
	fs.DurationEnv(&o.stall, "stall", "TALLYQ_CHAOS_STALL", 3*time.Minute, "how long a job may make no progress before the run calls it stuck")
	fs.StringEnv(&o.postgresDir, "postgres-dir", "TALLYQ_TEST_PG_DIR", "",
		"`directory` of the database's server for scripts/postgres.sh, which crashes it (scripts/with-servers.sh exports it)")
	fs.StringEnv(&o.rabbitDir, "rabbitmq-dir", "TALLYQ_TEST_RABBITMQ_DIR", "",
		"`directory` of the --amqp-url node for scripts/rabbitmq.sh, which kills it (scripts/with-servers.sh exports it)")
	fs.StringEnv(&o.workerLog, "worker-log", "TALLYQ_CHAOS_WORKER_LOG", "", "append the workers' logs to this `file` (default: discarded)")
}

func (o *chaosBenchOptions) validate() error {
	if o.ballots < 1 || o.chunkSize < 1 || o.workers < 2 || o.missing < 0 || o.spoiled < 0 || o.spoiled > o.ballots {
		return usagef("--ballots and --chunk-size must be positive, --workers at least 2, --missing not negative, --spoiled from 0 to --ballots")
	}
	if o.killMin <= 0 || o.killMax < o.killMin || o.downtime <= 0 || o.stall <= 0 || o.maxAttempts < 1 {
		return usagef("--kill-min, --downtime, --stall and --max-attempts must be positive and --kill-max not below --kill-min")
	}
	if o.lease < minLease {
		return usagef("--lease must be at least %s, got %s", minLease, o.lease)
	}
	if o.postgresDir == "" {
		return usagef("--postgres-dir (TALLYQ_TEST_PG_DIR) is required: the run crashes that server; run it as `make chaos`")
	}
	if o.brokers.broker.value == "rabbitmq" && o.rabbitDir == "" {
		return usagef("--broker rabbitmq needs --rabbitmq-dir (TALLYQ_TEST_RABBITMQ_DIR): the run kills that node; run it as `make chaos`")
	}
	return firstErr(o.brokers.validate(), o.workerProcessOptions.validate())
}

func (o *chaosBenchOptions) slots() int { return 8 }

func (o *chaosBenchOptions) jsonKey() string { return "chaos-" + o.brokers.broker.value }

func (o *chaosBenchOptions) run(ctx context.Context, e *env, pool *pgxpool.Pool, logger *slog.Logger) (any, error) {
	cfg := bench.ChaosConfig{Pool: o.pool.config(), Ballots: o.ballots, Spoiled: o.spoiled, Verify: o.verify, Missing: o.missing,
		ChunkSize: o.chunkSize, Workers: o.workers, KillMin: o.killMin, KillMax: o.killMax, Downtime: o.downtime,
		Lease: o.lease, MaxAttempts: o.maxAttempts, Stall: o.stall, AMQPURL: o.brokers.url(),
		Processes: bench.Processes{Tallyq: o.tallyq.path, DatabaseURL: o.databaseURL}, Logger: logger, Progress: progressTo(e)}
	var err error
	if cfg.Postgres, err = pgserver.Attach(ctx, o.postgresDir, ""); err != nil {
		return nil, fmt.Errorf("the Postgres server in %s: %w", o.postgresDir, err)
	}
	if cfg.AMQPURL != "" {
		if cfg.RabbitMQ, err = attachRabbitMQ(ctx, o.rabbitDir); err != nil {
			return nil, err
		}
	}
	if o.workerLog != "" {
		f, err := os.OpenFile(o.workerLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("--worker-log: %w", err)
		}
		defer f.Close()
		cfg.Output = f
	}
	res, err := bench.RunChaos(ctx, pool, cfg)
	printChaosResult(e.stdout, res)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// attachRabbitMQ returns the node scripts/rabbitmq.sh keeps in dir, which
// has the verbs of scripts/postgres.sh.
func attachRabbitMQ(ctx context.Context, dir string) (*pgserver.Server, error) {
	script, err := pgserver.Script("rabbitmq.sh")
	if err != nil {
		return nil, err
	}
	node, err := pgserver.Attach(ctx, dir, script)
	if err != nil {
		return nil, fmt.Errorf("the RabbitMQ node in %s: %w", dir, err)
	}
	return node, nil
}

// printChaosResult prints what a run survived, also when it failed.
func printChaosResult(out io.Writer, r bench.ChaosResult) {
	c, f := r.Config, r.Faults
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "chaos run\t%d %s-group ballots (%d spoiled, verified %v) in chunks of %d, %s broker, %d worker processes, %d guardians, %d missing, %.0f s\n",
		c.Ballots, c.Pool.Group, c.Spoiled, c.Verify, c.ChunkSize, r.Broker, c.Workers, r.Guardians, c.Missing, r.Seconds)
	fmt.Fprintf(w, "worker kills (SIGKILL every %s-%s)\t%d, %d inside a running chunk\n", c.KillMin, c.KillMax, f.Kills, f.KillsInChunk)
	fmt.Fprintf(w, "worker processes\t%d started, %d exited by themselves and were restarted\n", f.Starts, f.Exits)
	fmt.Fprintf(w, "Postgres crashes (pg_ctl -m immediate)\t%d\n", f.PostgresCrashes)
	if r.Broker == "rabbitmq" {
		fmt.Fprintf(w, "RabbitMQ node kills (SIGKILL)\t%d (after %d clean restart)\n", f.RabbitMQCrashes, f.RabbitMQCleanRestarts)
	}
	for _, j := range r.Jobs {
		fmt.Fprintf(w, "job %s %s\t%s: %d of %d chunks processed, %d failed, %d done; %d attempts (%d run again, at most %d for a chunk)\n",
			j.Operation, j.Guardian, j.Status, j.Processed, j.Total, j.Failed, j.DoneChunks, j.Attempts, j.Attempts-j.Total, j.MaxAttempts)
	}
	a := r.Audit
	if a.Objects > 0 {
		fmt.Fprintf(w, "audit, each chunk's effect once\t%d subtotals counting %d ballots; %d objects: %d shares, %d compensated shares, %d plaintexts\n",
			a.Subtotals, a.BallotsCounted, a.Objects, a.Shares, a.CompensatedShares, a.Plaintexts)
	}
	fmt.Fprintf(w, "results equal the voters' plaintext\t%v\n", r.ResultsMatch)
	w.Flush()
}
