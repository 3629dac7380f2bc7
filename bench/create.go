package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/tallyq/tallyq/queue"
)

// CreateConfig sizes the create scenario.
type CreateConfig struct {
	// Chunks is the size of the job created.
	Chunks int          `json:"chunks"`
	Logger *slog.Logger `json:"-"`
}

// CreateResult is the outcome of the create scenario.
type CreateResult struct {
	Config   CreateConfig      `json:"config"`
	Postgres map[string]string `json:"postgres"`
	// CreateSeconds is the engine's CreateJob of a no-op job of
	// Config.Chunks chunks (its row, a row per chunk, River jobs for the
	// chunks of its first enqueue window, one transaction); RawRiverSeconds the
	// anchor: inserting a raw River job per chunk, carrying the same
	// message, in one transaction.
	CreateSeconds float64 `json:"createSeconds"`
	// Enqueued is how many River jobs the creation inserted, for
	// EnqueuedChunks chunks (the engine's enqueue window); the others are
	// inserted as chunks settle.
	Enqueued        int     `json:"enqueued"`
	EnqueuedChunks  int     `json:"enqueuedChunks"`
	RawRiverSeconds float64 `json:"rawRiverSeconds"`
	// Ratio is RawRiverSeconds / CreateSeconds (1 would be no engine cost).
	Ratio float64 `json:"ratio"`
	// StartRSSMiB is this process's resident set before the create;
	// VmHWMMiB its peak resident set after it (before the anchor runs).
	StartRSSMiB float64 `json:"startRssMiB"`
	VmHWMMiB    float64 `json:"vmHWMMiB"`
}

// RunCreate times creating one job of cfg.Chunks chunks through the engine
// and reads this process's peak memory right after, then times the raw
// River anchor. Both are removed afterwards (the engine's job cancelled,
// the River jobs of both deleted).
func RunCreate(ctx context.Context, pool *pgxpool.Pool, cfg CreateConfig) (CreateResult, error) {
	res := CreateResult{Config: cfg}
	if cfg.Chunks < 1 {
		return res, fmt.Errorf("create scenario: chunks must be positive, got %d", cfg.Chunks)
	}
	var err error
	if res.Postgres, err = PostgresSettings(ctx, pool); err != nil {
		return res, err
	}
	if err := vacuum(ctx, pool); err != nil {
		return res, err
	}
	rss, err := residentSet(os.Getpid(), "VmRSS:")
	if err != nil {
		return res, err
	}
	d, enqueued, enqueuedChunks, err := createTime(ctx, pool, QueueConfig{CreateChunks: cfg.Chunks, Logger: cfg.Logger})
	if err != nil {
		return res, fmt.Errorf("create through the engine: %w", err)
	}
	hwm, err := peakRSS(os.Getpid())
	if err != nil {
		return res, err
	}
	res.CreateSeconds, res.Enqueued, res.EnqueuedChunks = d.Seconds(), enqueued, enqueuedChunks
	res.StartRSSMiB, res.VmHWMMiB = float64(rss)/(1<<20), float64(hwm)/(1<<20)
	if err := vacuum(ctx, pool); err != nil {
		return res, err
	}
	raw, err := rawRiverInsert(ctx, pool, cfg)
	if err != nil {
		return res, fmt.Errorf("raw River insert: %w", err)
	}
	res.RawRiverSeconds = raw.Seconds()
	res.Ratio = res.RawRiverSeconds / res.CreateSeconds
	return res, nil
}

// rawRiverInsert inserts cfg.Chunks raw River jobs in one transaction, in
// slices as the broker does, times it, and deletes them.
func rawRiverInsert(ctx context.Context, pool *pgxpool.Pool, cfg CreateConfig) (time.Duration, error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, rawWorker{})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: cfg.Logger, Workers: workers})
	if err != nil {
		return 0, err
	}
	jobID := uuid.New()
	start := time.Now()
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for lo := 0; lo < cfg.Chunks; lo += createSlice {
			hi := min(lo+createSlice, cfg.Chunks)
			params := make([]river.InsertManyParams, 0, hi-lo)
			for i := lo; i < hi; i++ {
				params = append(params, river.InsertManyParams{
					Args:       rawArgs{queue.Message{JobID: jobID, Chunk: i, Operation: noopOp{}.Type()}},
					InsertOpts: &river.InsertOpts{Queue: "bench_raw_create"},
				})
			}
			if _, err := client.InsertManyFastTx(ctx, tx, params); err != nil {
				return err
			}
		}
		return nil
	})
	d := time.Since(start)
	if err != nil {
		return 0, err
	}
	if _, err := pool.Exec(ctx, `DELETE FROM river_job WHERE queue = 'bench_raw_create'`); err != nil {
		return 0, fmt.Errorf("delete the raw jobs: %w", err)
	}
	return d, nil
}

// createSlice is the anchor's insert slice, the engine's enqueue slice.
const createSlice = 100_000
