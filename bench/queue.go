// Package bench holds tallyq's benchmark scenarios and their anchors: each
// scenario measures tallyq next to a baseline run in the same process on the
// same database in the same run (raw River, raw amqp091, the in-memory
// compute rate), because this machine is shared and noisy and only ratios
// measured together mean anything.
package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/tallyq/tallyq/jobs"
	"github.com/tallyq/tallyq/queue"
	riverbroker "github.com/tallyq/tallyq/queue/river"
)

// QueueConfig sizes the queue scenario.
type QueueConfig struct {
	// Chunks is the number of no-op chunks (and raw River jobs) per round.
	Chunks int
	// Workers is the worker count of both sides.
	Workers int
	// Rounds alternates raw River and the broker this many times each.
	Rounds int
	// CreateChunks is the size of the job whose creation is timed.
	CreateChunks int
	// Logger receives River's and the engine's logs.
	Logger *slog.Logger
}

// QueueResult is the outcome of the queue scenario.
type QueueResult struct {
	Config         QueueConfig       `json:"config"`
	Postgres       map[string]string `json:"postgres"`
	RawRiverPerSec []float64         `json:"rawRiverPerSec"`
	BrokerPerSec   []float64         `json:"brokerPerSec"`
	RawRiverMedian float64           `json:"rawRiverMedian"`
	BrokerMedian   float64           `json:"brokerMedian"`
	Ratio          float64           `json:"ratio"` // pairedRatio of the broker over raw River
	RawRiverCPU    []CPUCost         `json:"rawRiverCPU"`
	BrokerCPU      []CPUCost         `json:"brokerCPU"`
	// ChunksPerJob is, per round, the mean chunks a River job of the broker
	// carried (riverbroker.Config.ChunksPerMessage).
	ChunksPerJob    []float64 `json:"riverChunksPerJob"`
	CreateSeconds   float64   `json:"createSeconds"`
	CreateChunksPer float64   `json:"createChunksPerSecond"`
}

// noopOp is the scenario's operation: a chunk that does nothing but be
// counted exactly.
type noopOp struct{}

func (noopOp) Type() string                { return "BENCH_NOOP" }
func (noopOp) ChunkTimeout() time.Duration { return time.Minute }
func (noopOp) Process(context.Context, jobs.Chunk) (jobs.Result, error) {
	return jobs.NoResult, nil
}
func (noopOp) Complete(context.Context, pgx.Tx, jobs.JobStatus) error { return nil }

// rawArgs is the raw River anchor's job. It carries the same reference a
// chunk message does (job id, chunk number, operation), because River's
// cost per job grows with its arguments (River indexes them with GIN), and
// the anchor should differ from the broker only by what the broker adds.
type rawArgs struct {
	queue.Message
}

func (rawArgs) Kind() string { return "bench_raw_noop" }

type rawWorker struct {
	river.WorkerDefaults[rawArgs]
}

func (rawWorker) Work(context.Context, *river.Job[rawArgs]) error { return nil }

// fetchCooldown is shared by both sides so they fetch alike.
const fetchCooldown = 2 * time.Millisecond

// RunQueue measures no-op chunks per second through the River broker with
// exact progress against raw River no-op jobs per second, alternating them.
func RunQueue(ctx context.Context, pool *pgxpool.Pool, cfg QueueConfig) (QueueResult, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	res := QueueResult{Config: cfg}
	var err error
	if res.Postgres, err = PostgresSettings(ctx, pool); err != nil {
		return res, err
	}
	for range cfg.Rounds {
		if err := vacuum(ctx, pool); err != nil {
			return res, err
		}
		cpu := readCPU()
		raw, err := rawRiverRate(ctx, pool, cfg)
		if err != nil {
			return res, fmt.Errorf("raw River: %w", err)
		}
		res.RawRiverPerSec = append(res.RawRiverPerSec, raw)
		res.RawRiverCPU = append(res.RawRiverCPU, costPer(cpu, cfg.Chunks))
		if err := vacuum(ctx, pool); err != nil {
			return res, err
		}
		cpu = readCPU()
		ours, perJob, err := brokerRate(ctx, pool, cfg)
		if err != nil {
			return res, fmt.Errorf("River broker: %w", err)
		}
		res.BrokerPerSec = append(res.BrokerPerSec, ours)
		res.BrokerCPU = append(res.BrokerCPU, costPer(cpu, cfg.Chunks))
		res.ChunksPerJob = append(res.ChunksPerJob, perJob)
	}
	res.RawRiverMedian, res.BrokerMedian = median(res.RawRiverPerSec), median(res.BrokerPerSec)
	res.Ratio = pairedRatio(res.BrokerPerSec, res.RawRiverPerSec)
	if cfg.CreateChunks > 0 {
		d, _, _, err := createTime(ctx, pool, cfg)
		if err != nil {
			return res, fmt.Errorf("create: %w", err)
		}
		res.CreateSeconds = d.Seconds()
		res.CreateChunksPer = float64(cfg.CreateChunks) / d.Seconds()
	}
	return res, nil
}

// vacuum clears what earlier rounds left behind, so that every round, of
// either side, starts from the same clean tables.
func vacuum(ctx context.Context, pool *pgxpool.Pool) error {
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE river_job, job_chunks, job_counter_shards, election_jobs`); err != nil {
		return fmt.Errorf("vacuum between rounds: %w", err)
	}
	return nil
}

// PostgresSettings reads the settings that decide commit cost.
func PostgresSettings(ctx context.Context, pool *pgxpool.Pool) (map[string]string, error) {
	out := map[string]string{}
	for _, name := range []string{"fsync", "synchronous_commit", "full_page_writes", "server_version", "max_connections"} {
		var v string
		if err := pool.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v); err != nil {
			return nil, fmt.Errorf("read setting %s: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}

func rawRiverRate(ctx context.Context, pool *pgxpool.Pool, cfg QueueConfig) (float64, error) {
	const queueName = "bench_raw"
	workers := river.NewWorkers()
	river.AddWorker(workers, rawWorker{})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Logger:        cfg.Logger,
		Queues:        map[string]river.QueueConfig{queueName: {MaxWorkers: cfg.Workers}},
		Workers:       workers,
		FetchCooldown: fetchCooldown,
	})
	if err != nil {
		return 0, err
	}
	params := make([]river.InsertManyParams, cfg.Chunks)
	jobID := uuid.New()
	for i := range params {
		params[i] = river.InsertManyParams{
			Args:       rawArgs{queue.Message{JobID: jobID, Chunk: i, Operation: noopOp{}.Type()}},
			InsertOpts: &river.InsertOpts{Queue: queueName},
		}
	}
	if _, err := client.InsertManyFast(ctx, params); err != nil {
		return 0, err
	}
	// A channel that holds every event: River drops events a full channel
	// cannot take, and a dropped one would never be counted.
	events, cancel := client.SubscribeConfig(&river.SubscribeConfig{
		ChanSize: cfg.Chunks + 1, Kinds: []river.EventKind{river.EventKindJobCompleted},
	})
	defer cancel()
	start := time.Now()
	if err := client.Start(ctx); err != nil {
		return 0, err
	}
	defer client.Stop(context.WithoutCancel(ctx)) //nolint:errcheck // measurement is over
	for done := 0; done < cfg.Chunks; {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case _, ok := <-events:
			if !ok {
				return 0, errors.New("River closed the event stream")
			}
			done++
		}
	}
	return float64(cfg.Chunks) / time.Since(start).Seconds(), nil
}

// newEngine builds an engine with the no-op operation on the River broker.
func newEngine(pool *pgxpool.Pool, logger *slog.Logger) (*jobs.Engine, error) {
	broker, err := riverbroker.New(pool, riverbroker.Config{Logger: logger, FetchCooldown: fetchCooldown})
	if err != nil {
		return nil, err
	}
	e, err := jobs.NewEngine(pool, broker, jobs.Config{Logger: logger})
	if err != nil {
		return nil, err
	}
	return e, e.Register(noopOp{})
}

func brokerRate(ctx context.Context, pool *pgxpool.Pool, cfg QueueConfig) (rate, chunksPerJob float64, err error) {
	e, err := newEngine(pool, cfg.Logger)
	if err != nil {
		return 0, 0, err
	}
	var since time.Time
	if err := pool.QueryRow(ctx, `SELECT now()`).Scan(&since); err != nil {
		return 0, 0, err
	}
	if rate, err = timeJob(ctx, pool, e, cfg.Chunks, cfg.Workers); err != nil {
		return 0, 0, err
	}
	var riverJobs, chunks int
	if err := pool.QueryRow(ctx, `SELECT `+riverJobsAndChunks+` FROM river_job WHERE kind = $1 AND created_at >= $2`,
		riverbroker.Kind, since).Scan(&riverJobs, &chunks); err != nil {
		return 0, 0, fmt.Errorf("count River jobs: %w", err)
	}
	if riverJobs == 0 || chunks != cfg.Chunks {
		return 0, 0, fmt.Errorf("%d River jobs carried %d chunks of %d", riverJobs, chunks, cfg.Chunks)
	}
	return rate, float64(chunks) / float64(riverJobs), nil
}

// timeJob creates a no-op job of the given chunks and returns chunks per
// second from the start of the engine's workers to the job's completion.
func timeJob(ctx context.Context, pool *pgxpool.Pool, e *jobs.Engine, chunks, workers int) (float64, error) {
	job, err := e.CreateJob(ctx, jobs.CreateParams{OperationType: noopOp{}.Type(), TotalChunks: chunks, CreatedBy: "bench"})
	if err != nil {
		return 0, err
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	errc := make(chan error, 1)
	start := time.Now()
	go func() { errc <- e.RunWorkers(wctx, jobs.WorkerConfig{Concurrency: workers}) }()
	s, err := WaitTerminal(ctx, pool, e, job.JobID)
	elapsed := time.Since(start)
	stop()
	if werr := <-errc; err == nil {
		err = werr
	}
	if err != nil {
		return 0, err
	}
	if s.Status != jobs.StatusCompleted || s.ProcessedChunks != chunks {
		return 0, fmt.Errorf("job ended %s with %d of %d chunks", s.Status, s.ProcessedChunks, chunks)
	}
	return float64(chunks) / elapsed.Seconds(), nil
}

// WaitTerminal waits, on the engine's status notifications, until the job
// is COMPLETED, FAILED or CANCELLED, and returns its final status.
func WaitTerminal(ctx context.Context, pool *pgxpool.Pool, e *jobs.Engine, id [16]byte) (jobs.JobStatus, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return jobs.JobStatus{}, err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+jobs.StatusChannel); err != nil {
		return jobs.JobStatus{}, err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "UNLISTEN "+jobs.StatusChannel) //nolint:errcheck // the connection goes back to the pool
	for {
		s, err := e.Status(ctx, id)
		if err != nil || s.Status.Terminal() {
			return s, err
		}
		// The maintenance loop is not running here; a missed notification
		// is caught by re-reading the status every second.
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err = conn.Conn().WaitForNotification(wctx)
		cancel()
		if err != nil && ctx.Err() != nil {
			return s, ctx.Err()
		}
	}
}

// riverJobsAndChunks selects how many River chunk jobs there are and how
// many chunks they carry.
const riverJobsAndChunks = `count(*), coalesce(sum(` + riverbroker.ChunksCarriedSQL + `), 0)`

// createTime times creating a no-op job of cfg.CreateChunks chunks through
// the engine and returns the River jobs the creation inserted and the chunks
// they carry. The job is cancelled and its River jobs deleted afterwards.
func createTime(ctx context.Context, pool *pgxpool.Pool, cfg QueueConfig) (d time.Duration, riverJobs, chunks int, err error) {
	e, err := newEngine(pool, cfg.Logger)
	if err != nil {
		return 0, 0, 0, err
	}
	start := time.Now()
	job, err := e.CreateJob(ctx, jobs.CreateParams{OperationType: noopOp{}.Type(), TotalChunks: cfg.CreateChunks, CreatedBy: "bench"})
	d = time.Since(start)
	if err != nil {
		return 0, 0, 0, err
	}
	if _, err := e.Cancel(ctx, job.JobID, "bench"); err != nil {
		return 0, 0, 0, err
	}
	// The cancelled chunks' River jobs would otherwise stay queued for the
	// scenarios that run after this one.
	err = pool.QueryRow(ctx, `WITH gone AS (DELETE FROM river_job WHERE args->>'job_id' = $1 RETURNING args)
		SELECT `+riverJobsAndChunks+` FROM gone`, uuid.UUID(job.JobID).String()).Scan(&riverJobs, &chunks)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("delete the cancelled job's River jobs: %w", err)
	}
	return d, riverJobs, chunks, nil
}

// pairedRatio is the median over rounds of each round's xs[i] over its
// anchors[i], measured beside it: on a shared machine whose speed drifts
// between rounds, a round against its own anchor cancels the drift that a
// ratio of the two medians keeps. It is 0 without a pair.
func pairedRatio(xs, anchors []float64) float64 {
	var rs []float64
	for i := range min(len(xs), len(anchors)) {
		if anchors[i] > 0 {
			rs = append(rs, xs[i]/anchors[i])
		}
	}
	return median(rs)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
